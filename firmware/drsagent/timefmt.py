# ISO 8601 UTC <-> Unix epoch without the datetime module (MicroPython has
# none, and time.mktime/gmtime epochs differ between ports).


def _civil_from_days(z):
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if m <= 2 else 0), m, d


def iso(t):
    """Epoch seconds -> "2026-01-01T00:00:00Z" (fractions are dropped)."""
    t = int(t)
    days = t // 86400
    s = t - days * 86400
    y, m, d = _civil_from_days(days)
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (y, m, d, s // 3600, s // 60 % 60, s % 60)


def parse_iso(text):
    """ "2017-01-05T07:59:59.000Z" (or "+hh:mm" offset, or a bare date) -> epoch int."""
    # The agent only formats times; parsing lives in isoparse.py, loaded on use.
    from drsagent.isoparse import parse_iso as p

    return p(text)
