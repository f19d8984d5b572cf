# Epoch -> ISO 8601 UTC without the datetime module (MicroPython has none, and
# time.mktime/gmtime epochs differ between ports). The agent only formats times:
# it never parses one (the host tests check the output with CPython's datetime).


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
