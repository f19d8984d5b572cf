# Closing a day of use into the history the estimator plans with (estimator.py, which
# owns these keys and says what the history means). Runs once a day: loaded for the
# call and dropped again (compat.run_once).
from drsagent.compat import const

_K_HISTORY = const("uh")  # use per day, oldest first, 1/_UNIT (estimator.py's key)
_K_TODAY = const("ud")  # [UTC day, level at its start, use before a refill, idle days]
_TODAY_DAY = const(0)
_TODAY_START = const(1)
_TODAY_USED = const(2)
_TODAY_IDLE = const(3)  # days in a row without use
_UNIT = const(10000)
_DAY = const(86400)
_DAYS = const(28)
_ABSENT = const(3)
_NO_USE = const(20)  # 0.2 % of a container in a day: noise, not use
_EMPTY = const(200)  # 2 %: at or below, the container is empty (sensor noise above 0)


def update(d, level, t):
    """The smoothed level at the first reading (time t) of a new UTC day: close the day
    being summed (if this one follows it) and start summing this one."""
    day = t // _DAY
    today = d.get(_K_TODAY)
    now = int(level * _UNIT)
    if today is None or day < today[_TODAY_DAY]:  # first reading, or the clock went back
        d[_K_TODAY] = [day, now, 0, today[_TODAY_IDLE] if today else 0]
        return
    used = today[_TODAY_USED] + today[_TODAY_START] - now
    # A day that ends empty says only that use was at least this much: left out, it
    # cannot make the habit look smaller than it is.
    if now > _EMPTY:
        # Days without a reading (the device was off): their use is known only in
        # total, so it is spread over them (up to a full history).
        gap = min(day - today[_TODAY_DAY], _DAYS)
        used //= gap
        idle = today[_TODAY_IDLE]
        history = d.get(_K_HISTORY)
        if history is None:
            history = d[_K_HISTORY] = []
        for _ in range(gap):
            idle = idle + 1 if used < _NO_USE else 0
            if idle > _ABSENT:
                continue  # away: keep the habit from before
            if len(history) >= _DAYS:
                history.pop(0)
            history.append(used)
        today[_TODAY_IDLE] = idle
    today[_TODAY_DAY] = day
    today[_TODAY_START] = now
    today[_TODAY_USED] = 0
