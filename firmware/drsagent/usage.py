# A slot's use, day by day: the history the reorder decision plans with.
#
# Each UTC day's use (the smoothed level's drop, refills taken out) goes into a ring of
# the last _DAYS days. A rate read from whole days is robust where a few hours are not:
# a rare large dose (a pet feeder's bowl) counts once, spread over the days it really
# covers, and sensor noise averages out (a day's value is signed: a dip that recovers
# next day cancels). The planning rate is a high one: the largest mean over any run of
# as many days as the lead time in the history (the bad stretches the slot has really
# seen, doses included); a step up in use enters it day by day.
# An absence (more than _ABSENT days in a row without use) stops adding days, so the
# habit from before it is still known when use resumes.
#
# Persisted in the slot's dict of state.json under the short keys below (a file format,
# listed in docs/contracts.md). Amounts are ints in 1/_UNIT of a container: small ints
# cost no heap on the device, and no float ever reaches flash.
from drsagent.compat import const

_K_HISTORY = const("uh")  # use per day, oldest first (at most _DAYS entries)
_K_DAY = const("ud")  # the UTC day (epoch s // 86400) being summed
_K_DAY_START = const("us")  # level when that day began (or since its last refill)
_K_DAY_USED = const("uu")  # use already counted that day, before a refill
_K_IDLE = const("uz")  # days in a row without use

_UNIT = const(10000)
_DAYS = const(28)
_ABSENT = const(3)
_NO_USE = const(20)  # 0.2 % of a container in a day: noise, not use
_DAY = const(86400)


def observe(d, level, t):
    """The smoothed level at t (an accepted reading): close the day when t is in a
    new one. Returns True when a day went into the history."""
    day = t // _DAY
    current = d.get(_K_DAY)
    if current is None or day < current:  # first reading, or the clock went back
        _start_day(d, day, level)
        return False
    if day == current:
        return False
    used = d.get(_K_DAY_USED, 0) + int((d.get(_K_DAY_START, level) - level) * _UNIT)
    # Days without a reading (the device was off): their use is known only in total,
    # so it is spread over them (up to a full ring).
    gap = min(day - current, _DAYS)
    share = used // gap
    for _ in range(gap):
        _push(d, share)
    _start_day(d, day, level)
    return True


def refilled(d, before, after):
    """A refill: the level went from `before` to `after`; the day's use so far stays."""
    if _K_DAY in d:
        used = int((d.get(_K_DAY_START, before) - before) * _UNIT)
        d[_K_DAY_USED] = d.get(_K_DAY_USED, 0) + used
        d[_K_DAY_START] = after


def _start_day(d, day, level):
    d[_K_DAY] = day
    d[_K_DAY_START] = round(level, 4)
    d[_K_DAY_USED] = 0


def _push(d, used):
    idle = d.get(_K_IDLE, 0)
    if used < _NO_USE:
        idle += 1
        d[_K_IDLE] = idle
        if idle > _ABSENT:
            return  # away: keep the habit from before
    else:
        d[_K_IDLE] = 0
    history = d.get(_K_HISTORY)
    if not isinstance(history, list):
        history = d[_K_HISTORY] = []
    if len(history) >= _DAYS:
        history.pop(0)
    history.append(used)


def repair(d):
    """Drop this module's keys from a slot dict read from flash if they are broken
    (boot only): the history starts over rather than a bad value stopping the slot."""
    history = d.get(_K_HISTORY)
    if history is not None and not (
        isinstance(history, list)
        and len(history) <= _DAYS
        and all(_is_int(v) and -_UNIT <= v <= _UNIT for v in history)
    ):
        d.pop(_K_HISTORY)
    day_ok = _is_int(d.get(_K_DAY)) and _is_int(d.get(_K_DAY_USED, 0))
    start = d.get(_K_DAY_START)
    if not day_ok or isinstance(start, bool) or not isinstance(start, (int, float)) or start != start:
        for key in (_K_DAY, _K_DAY_START, _K_DAY_USED):
            d.pop(key, None)
    if not _is_int(d.get(_K_IDLE, 0)):
        d.pop(_K_IDLE)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def known_days(d):
    """Days in the history."""
    return len(d.get(_K_HISTORY) or ())


def mean_rate(d):
    """Mean use per day over the history (fraction of a container), 0 without one."""
    history = d.get(_K_HISTORY) or ()
    if not history:
        return 0.0
    return max(0, sum(history)) / len(history) / _UNIT


def planning_rate(d, horizon_days):
    """Use per day to plan a horizon_days wait with (fraction of a container): the
    largest mean over any horizon-long run of days in the history. 0 without history."""
    history = d.get(_K_HISTORY) or ()
    n = len(history)
    if not n:
        return 0.0
    width = int(horizon_days + 0.999)
    width = 1 if width < 1 else n if width > n else width
    total = 0
    for i in range(width):
        total += history[i]
    best = total
    for i in range(width, n):
        total += history[i] - history[i - width]
        if total > best:
            best = total
    return best / width / _UNIT if best > 0 else 0.0
