# The estimator: a smoothed level and the use per slot, from accepted readings: a
# short-term rate (an EMA over 6-hour windows, for the reports and the first days) and
# a day-by-day history the policy plans with (below). It keeps its numbers in the
# slot's persisted dict (state.json), under the short keys below (a file format: see
# docs/contracts.md); code uses the long names.
#
# The history: each UTC day's use (the smoothed level's drop, refills taken out) goes
# into a ring of the last 28 days. A rate read from whole days is robust where a few
# hours are not: a rare large dose (a pet feeder's bowl) counts once, spread over the
# days it really covers, and sensor noise averages out (a day's value is signed: a dip
# that recovers next day cancels). The planning rate is a high one: the largest mean
# over any run of as many days as the lead time (the bad stretches the slot has really
# seen, doses included); a step up in use enters it day by day, and once two days in a
# row both used more than any day before, it is planned with at once. An absence (more
# than 3 days in a row without use) stops adding days, so the habit from before it is
# still known when use resumes; so does a day that ends empty (its use is unknown):
# usage.py.
# Amounts are ints in 1/_UNIT of a container: small ints cost no heap on the device,
# and no float reaches flash.
from drsagent.compat import const, run_once

_K_LEVEL = const("l")  # level 0..1, EMA of accepted readings
_K_RATE = const("r")  # use in fractions per day, EMA over windows
_K_TIME = const("t")  # time of the last update
_K_WINDOW_LEVEL = const("rl")  # level at the start of the current rate window
_K_WINDOW_TIME = const("rt")  # time at the start of the current rate window
_K_WINDOWS = const("k")  # rate windows seen (capped at 99)
_K_LAST_USE = const("u")  # the last time a window showed use
_K_LEARN_LEVEL = const("l0")  # level where learning started (until the first rate)
_K_LEARN_TIME = const("t0")  # time where learning started
# The keys above hold numbers: boot.repair_slot checks them after a boot.
_K_HISTORY = const("uh")  # use per day, oldest first, 1/_UNIT (usage.py fills it)
_K_TODAY = const("ud")  # the day being summed, a list (usage.py starts it):
_TODAY_DAY = const(0)  # its UTC day (epoch s // 86400)
_TODAY_START = const(1)  # level when it began, or since its last refill (1/_UNIT)
_TODAY_USED = const(2)  # use counted before that refill (1/_UNIT)

_DAY = const(86400)
_WINDOW = const(21600)  # measure drops over >= 6 h so sensor noise averages out
_COLD = const(3600)  # until the first use is measured: hourly windows, to learn fast
_UNIT = const(10000)
# Floats, inline below: level EMA weight 0.3 (hourly readings: ~3 h lag), rate EMA
# weight 0.3 per window, a first rate only from a drop > 0.01 (well above noise),
# a rise > 0.3 is a refill whatever the level, crossing `rearm` needs a rise > 0.05,
# and while a delivery is expected a rise > 0.1 to 0.9 or more is one too (a slot
# ordered early, above `rearm`, is refilled from there).


def level(state):
    """The smoothed level 0..1, or None before the first accepted reading."""
    return state.get(_K_LEVEL)


def daily_rate(state):
    """Use per day as a fraction of the container (0.0 until measured): the
    short-term rate (the policy plans with the day-by-day history)."""
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


def _refill(lvl, x, config, ordered):
    """Whether a reading x over the level lvl is a new cartridge (see the floats above)."""
    rise = x - lvl
    return (
        rise > 0.3
        or (lvl < config["rearm"] <= x and rise > 0.05)
        or (ordered and x >= 0.9 and rise > 0.1)
    )


def update(state, config, x, t, ordered=False, previous=None):
    """Take an accepted reading x at time t; return True when it is a refill, None when
    it is held (a refill not confirmed yet: not a reading to act on), else False.
    ordered: an order is out or delivered (a smaller rise counts as a refill then).
    previous: the reading accepted before x (the level on flash after a boot; None:
    not known). A rise from it over sensor.spike was confirmed by the reading filter;
    a smaller one passed it alone, so a refill then needs the reading before to be one
    too: one glitch never re-arms a slot whose order is out."""
    d = state  # the slot's record in state.json
    lvl = d.get(_K_LEVEL)
    # A reading on a new UTC day first closes the day before into the history, on the
    # level before this reading (after a gap, the reading as it is: see below). Once a
    # day, so that code (usage.py) is loaded for the call and dropped.
    today = d.get(_K_TODAY)
    if today is None or t // _DAY != today[_TODAY_DAY]:
        # After a gap, a rise is a refill put in while the device was off, not
        # negative use: those days close on the level before it.
        gap = lvl is None or (t - d.get(_K_TIME, t) >= _WINDOW and x < lvl)
        run_once("usage", "update", d, x if gap else lvl, t)
    if lvl is None:
        d[_K_LEVEL] = d[_K_WINDOW_LEVEL] = d[_K_LEARN_LEVEL] = x
        d[_K_TIME] = d[_K_WINDOW_TIME] = d[_K_LEARN_TIME] = t
        return False
    rise = x - lvl
    if _refill(lvl, x, config, ordered):
        if (
            previous is not None
            and x - previous <= config["sensor"]["spike"]
            and not _refill(lvl, previous, config, ordered)
        ):
            return None  # held, level untouched: the next reading confirms or drops it
        # New cartridge: jump straight to it and restart the rate window so the
        # jump is not read as negative use. Keep the rate: the usage habit is the same.
        # A day that ended before the refill closes on the old level; today's use
        # so far is kept, and counted on from the new level.
        today = d[_K_TODAY]
        today[_TODAY_USED] += today[_TODAY_START] - int(lvl * _UNIT)
        today[_TODAY_START] = int(x * _UNIT)
        d[_K_LEVEL] = d[_K_WINDOW_LEVEL] = x
        d[_K_TIME] = d[_K_WINDOW_TIME] = t
        if _K_LEARN_LEVEL in d:  # still learning: restart from the full container
            d[_K_LEARN_LEVEL] = x
            d[_K_LEARN_TIME] = t
        return True
    # rounded: state.json stays short and JSON-stable on both runtimes. After a gap
    # (the device was off) the reading is taken as it is: smoothing across the gap
    # would lag its use into the next days.
    lvl = round(x if t - d.get(_K_TIME, t) >= _WINDOW else lvl + 0.3 * rise, 4)
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


def known_days(state):
    """Whole days in the use history."""
    return len(state.get(_K_HISTORY) or ())


def planning_rate(state, delay):
    """Use per day to plan a wait of `delay` days with (fraction of a container): the
    largest mean over any run of that many days in the history, or after a step up in
    use the new rate, whichever is higher. 0 without history."""
    history = state.get(_K_HISTORY) or ()
    n = len(history)
    if not n:
        return 0.0
    width = int(delay + 0.999)
    width = 1 if width < 1 else n if width > n else width
    total = 0
    for i in range(width):
        total += history[i]
    best = total
    for i in range(width, n):
        total += history[i] - history[i - width]
        if total > best:
            best = total
    best /= width
    # A step up: the last two days each used more than any day before them. Runs of
    # `delay` days would take that many days to see the new habit (it is diluted in
    # them until then): plan with the smaller of the two days at once. One large day
    # (a dose) is not a step, and neither is the usual spread of days (a new high
    # followed by an ordinary day).
    if n > 2:
        recent = history[-1] if history[-1] < history[-2] else history[-2]
        for i in range(n - 2):
            if history[i] >= recent:
                break
        else:
            best = recent if recent > best else best
    return best / _UNIT if best > 0 else 0.0
