# ISO 8601 -> Unix epoch: not needed by the agent loop, so kept out of timefmt
# (epoch -> ISO), which the DRS client loads for its dates.


def _days_from_civil(y, m, d):
    # Howard Hinnant's algorithm: days since 1970-01-01 for a proleptic Gregorian date.
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _dim(y, m):
    if m == 2:
        return 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    return 30 if m in (4, 6, 9, 11) else 31


def _num(text, i, n):
    part = text[i : i + n]
    if len(part) != n or not part.isdigit():
        raise ValueError("bad ISO time")
    return int(part)


def _sep(text, i, chars):
    if i >= len(text) or text[i] not in chars:
        raise ValueError("bad ISO time")


def parse_iso(text):
    """ "2017-01-05T07:59:59.000Z" (or "+hh:mm" offset, or a bare date) -> epoch int."""
    if not isinstance(text, str):
        raise ValueError("bad ISO time")
    text = text.strip()
    y = _num(text, 0, 4)
    _sep(text, 4, "-")
    mo = _num(text, 5, 2)
    _sep(text, 7, "-")
    d = _num(text, 8, 2)
    hh = mi = ss = 0
    off = 0
    i = 10
    if len(text) > 10:
        _sep(text, 10, "Tt ")
        hh = _num(text, 11, 2)
        _sep(text, 13, ":")
        mi = _num(text, 14, 2)
        i = 16
        if i < len(text) and text[i] == ":":
            ss = _num(text, 17, 2)
            i = 19
            if i < len(text) and text[i] in ".,":
                # Fractional seconds: at least one digit, value dropped.
                i += 1
                j = i
                while i < len(text) and text[i].isdigit():
                    i += 1
                if i == j:
                    raise ValueError("bad ISO time")
        rest = text[i:]
        if rest in ("Z", "z", ""):
            pass
        elif len(rest) == 6 and rest[0] in "+-" and rest[3] == ":":
            off = _num(rest, 1, 2) * 3600 + _num(rest, 4, 2) * 60
            if rest[0] == "-":
                off = -off
        else:
            raise ValueError("bad ISO time")
    if not (1970 <= y <= 2100 and 1 <= mo <= 12 and 1 <= d <= _dim(y, mo)):
        raise ValueError("bad ISO date")
    if hh > 23 or mi > 59 or ss > 60:
        raise ValueError("bad ISO time")
    return _days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss - off
