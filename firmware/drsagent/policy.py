# When to order: a smoothed level, a consumption-rate estimate, and the decision.
from drsagent.compat import const

DAY = const(86400)
ALPHA = 0.3  # level EMA weight of a new reading (hourly readings: ~3 h lag)
BETA = 0.3  # rate EMA weight of a new window
WINDOW = const(21600)  # measure drops over >= 6 h so sensor noise averages out
COLD_WINDOW = const(3600)  # until the first use is measured: hourly, to learn fast
COLD_DROP = 0.01  # ... and only a drop well above sensor noise seeds the rate
JUMP = 0.3  # a rise this big is a refill whatever the level
RISE = 0.05  # crossing `rearm` only counts as a refill with a real rise
NEVER = 1e9  # days_left() when nothing is being used


class Estimator:
    """Level and rate over a plain dict `d` (persisted in state.json).

    Keys: l level (0..1, EMA), r rate (fraction/day, EMA), t last update,
    rl/rt level and time at the start of the current rate window, k windows seen,
    u last time a window showed use, l0/t0 where learning started (until k > 0).
    """

    def __init__(self, d, rearm=0.6):
        self.d = d
        self.rearm = rearm

    @property
    def level(self):
        return self.d.get("l")

    @property
    def rate(self):
        return self.d.get("r", 0.0)

    def days_left(self):
        r = self.rate
        lvl = self.d.get("l")
        if lvl is None or r <= 0:
            return NEVER
        return lvl / r

    def update(self, x, t):
        """Take an accepted reading `x` at time `t`; return True when it is a refill."""
        d = self.d
        lvl = d.get("l")
        if lvl is None:
            d["l"] = d["rl"] = d["l0"] = x
            d["t"] = d["rt"] = d["t0"] = t
            return False
        rise = x - lvl
        if rise > JUMP or (lvl < self.rearm <= x and rise > RISE):
            # New cartridge: jump straight to it and restart the rate window so the
            # jump is not read as negative use. Keep r: the usage habit is the same.
            d["l"] = d["rl"] = x
            d["t"] = d["rt"] = t
            if "l0" in d:  # still learning: restart from the full container
                d["l0"] = x
                d["t0"] = t
            return True
        # rounded: state.json stays short and JSON-stable on both runtimes
        lvl = round(lvl + ALPHA * rise, 4)
        d["l"] = lvl
        d["t"] = t
        dt = t - d.get("rt", t)
        k = d.get("k", 0)
        if dt >= (WINDOW if k else COLD_WINDOW):
            drop = d.get("rl", lvl) - lvl
            if drop > 0.002:  # more than noise: somebody used it (slotStatus lastUseDate)
                d["u"] = t
            if k == 0:
                # Cold start: learn from the first real use. A window that stays
                # flat (a night, noise) moves the reference on, so fast daytime use
                # is seen within hours; slow use shows up against l0/t0 instead.
                if drop > COLD_DROP:
                    return self._seed(drop, dt, t)
                if drop > 0.002:
                    return False  # keep the window open
                slow = d.get("l0", lvl) - lvl
                if slow > 2 * COLD_DROP:
                    return self._seed(slow, t - d.get("t0", t), t)
            elif drop >= 0:  # a net rise without refill is noise: skip the window
                r = d.get("r", 0.0)
                r += BETA * (drop * DAY / dt - r)
                d["r"] = round(r, 5)
                d["k"] = k + 1 if k < 99 else k
            d["rl"] = lvl
            d["rt"] = t
        return False


    def _seed(self, drop, dt, t):
        d = self.d
        d["r"] = round(drop * DAY / dt, 5) if dt > 0 else 0.0
        d["k"] = 1
        d.pop("l0", None)
        d.pop("t0", None)
        d["rl"] = d["l"]
        d["rt"] = t
        return False


def decide(est, slot_cfg):
    """None, or why to order now: "floor" (at/below the floor) or "forecast"."""
    lvl = est.level
    if lvl is None:
        return None
    if lvl <= slot_cfg.get("floor", 0.1):
        return "floor"
    if lvl > slot_cfg.get("order_ceiling", 0.5):
        return None
    r = est.rate
    if r <= 0:
        # nothing measured yet: an optional prior from config (fraction per day)
        r = slot_cfg.get("daily_use", 0)
    if r > 0 and lvl / r <= slot_cfg.get("lead_time_days", 3) + slot_cfg.get("margin_days", 1):
        return "forecast"
    return None
