# Simulator drivers: the harness injects the raw reading and the time per tick.

# slot id -> raw value of the current tick (number, None or junk such as "nan").
RAW = {}


def make(c):
    sid = c["id"]
    return lambda: RAW.get(sid)


class SimClock:
    """Virtual clock: returns the tick's time until the next tick sets it."""

    def __init__(self, t=None):
        self.t = t

    def set(self, t):
        self.t = int(t)

    def now(self):
        return self.t or 0

    def is_set(self):
        # 1704067200 = 2024-01-01: anything earlier means "never synced".
        return (self.t or 0) >= 1704067200
