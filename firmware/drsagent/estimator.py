# The estimator: a smoothed level and a consumption rate per slot, from accepted
# readings. It keeps its numbers in the slot's persisted dict (state.json), under the
# short keys below (a file format: see docs/contracts.md); code uses the long names.
from drsagent.compat import const

_K_LEVEL = const("l")  # level 0..1, EMA of accepted readings
_K_RATE = const("r")  # use in fractions per day, EMA over windows
_K_TIME = const("t")  # time of the last update
_K_WINDOW_LEVEL = const("rl")  # level at the start of the current rate window
_K_WINDOW_TIME = const("rt")  # time at the start of the current rate window
_K_WINDOWS = const("k")  # rate windows seen (capped at 99)
_K_LAST_USE = const("u")  # the last time a window showed use
_K_LEARN_LEVEL = const("l0")  # level where learning started (until the first rate)
_K_LEARN_TIME = const("t0")  # time where learning started

_DAY = const(86400)
_WINDOW = const(21600)  # measure drops over >= 6 h so sensor noise averages out
_COLD = const(3600)  # until the first use is measured: hourly windows, to learn fast
# Floats, inline below: level EMA weight 0.3 (hourly readings: ~3 h lag), rate EMA
# weight 0.3 per window, a first rate only from a drop > 0.01 (well above noise),
# a rise > 0.3 is a refill whatever the level, crossing `rearm` needs a rise > 0.05.


def level(state):
    """The smoothed level 0..1, or None before the first accepted reading."""
    return state.get(_K_LEVEL)


def daily_rate(state):
    """Use per day as a fraction of the container (0.0 until measured)."""
    return state.get(_K_RATE, 0.0)


def last_use(state):
    """The last time a rate window showed use, or None."""
    return state.get(_K_LAST_USE)


def days_left(state):
    """Days until empty at the measured rate (1e9 when nothing is being used)."""
    rate = state.get(_K_RATE, 0.0)
    lvl = state.get(_K_LEVEL)
    if lvl is None or rate <= 0:
        return 1e9  # never
    return lvl / rate


def update(state, config, x, t):
    """Take an accepted reading x at time t; return True when it is a refill."""
    d = state  # the slot's record in state.json
    lvl = d.get(_K_LEVEL)
    if lvl is None:
        d[_K_LEVEL] = d[_K_WINDOW_LEVEL] = d[_K_LEARN_LEVEL] = x
        d[_K_TIME] = d[_K_WINDOW_TIME] = d[_K_LEARN_TIME] = t
        return False
    rise = x - lvl
    if rise > 0.3 or (lvl < config["rearm"] <= x and rise > 0.05):
        # New cartridge: jump straight to it and restart the rate window so the
        # jump is not read as negative use. Keep the rate: the usage habit is the same.
        d[_K_LEVEL] = d[_K_WINDOW_LEVEL] = x
        d[_K_TIME] = d[_K_WINDOW_TIME] = t
        if _K_LEARN_LEVEL in d:  # still learning: restart from the full container
            d[_K_LEARN_LEVEL] = x
            d[_K_LEARN_TIME] = t
        return True
    # rounded: state.json stays short and JSON-stable on both runtimes
    lvl = round(lvl + 0.3 * rise, 4)
    d[_K_LEVEL] = lvl
    d[_K_TIME] = t
    dt = t - d.get(_K_WINDOW_TIME, t)
    windows = d.get(_K_WINDOWS, 0)
    if dt >= (_WINDOW if windows else _COLD):
        drop = d.get(_K_WINDOW_LEVEL, lvl) - lvl
        if drop > 0.002:  # more than noise: somebody used it (slotStatus lastUseDate)
            d[_K_LAST_USE] = t
        if windows == 0:
            # Cold start: learn from the first real use. A window that stays flat
            # (a night, noise) moves the reference on, so fast daytime use is seen
            # within hours; slow use shows up against the learning start instead.
            if drop <= 0.01:
                if drop > 0.002:
                    return False  # keep the window open
                drop = d.get(_K_LEARN_LEVEL, lvl) - lvl
                dt = t - d.get(_K_LEARN_TIME, t)
                if drop <= 0.02:
                    drop = 0
            if drop:  # seed the rate
                d[_K_RATE] = round(drop * _DAY / dt, 5) if dt > 0 else 0.0
                d[_K_WINDOWS] = 1
                d.pop(_K_LEARN_LEVEL, None)
                d.pop(_K_LEARN_TIME, None)
        elif drop >= 0:  # a net rise without refill is noise: skip the window
            rate = d.get(_K_RATE, 0.0)
            d[_K_RATE] = round(rate + 0.3 * (drop * _DAY / dt - rate), 5)
            d[_K_WINDOWS] = windows + 1 if windows < 99 else windows
        d[_K_WINDOW_LEVEL] = lvl
        d[_K_WINDOW_TIME] = t
    return False
