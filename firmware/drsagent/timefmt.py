# Epoch <-> ISO 8601 UTC without the datetime module (MicroPython has none, and
# time.mktime/gmtime epochs differ between ports). The host tests check both
# directions against CPython's datetime.


def iso(t):
    """Epoch seconds -> "2026-01-01T00:00:00Z" (fractions are dropped)."""
    t = int(t)
    z = t // 86400
    t -= z * 86400
    # Howard Hinnant's civil_from_days: days since 1970-01-01 -> (y, m, d).
    z += 719468
    e = z // 146097
    z -= e * 146097  # day of the 400-year era
    y = (z - z // 1460 + z // 36524 - z // 146096) // 365
    z -= 365 * y + y // 4 - y // 100  # day of the year (from March 1)
    m = (5 * z + 2) // 153
    d = z - (153 * m + 2) // 5 + 1
    m = m + 3 if m < 10 else m - 9
    y += e * 400 + (m <= 2)
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (y, m, d, t // 3600, t // 60 % 60, t % 60)


def parse(text):
    """ "2030-01-03T00:00:00.000Z" (DRS dates: UTC, fraction ignored) -> epoch seconds,
    or None for anything else."""
    try:
        y, m, d = int(text[0:4]), int(text[5:7]), int(text[8:10])
        hh, mm, ss = int(text[11:13]), int(text[14:16]), int(text[17:19])
    except (TypeError, ValueError):
        return None
    if text[4:5] != "-" or text[10:11] != "T" or not (1 <= m <= 12 and 1 <= d <= 31):
        return None
    # Howard Hinnant's days_from_civil: (y, m, d) -> days since 1970-01-01.
    y -= m <= 2
    e = y // 400
    y -= e * 400  # year of the 400-year era
    z = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1  # day of the year from March 1
    z = e * 146097 + y * 365 + y // 4 - y // 100 + z - 719468
    return z * 86400 + hh * 3600 + mm * 60 + ss
