# Simulator drivers: the harness injects the raw reading and the time per tick.

# slot id -> raw value of the current tick (number, None or junk such as "nan").
RAW = {}


class SimSensor:
    def __init__(self, slot_id):
        self.slot_id = slot_id

    def read(self):
        return RAW.get(self.slot_id)


def make(slot_cfg):
    return SimSensor(slot_cfg["id"])


class SimClock:
    """Virtual clock: returns the tick's time until the next tick sets it."""

    def __init__(self, t=None):
        self.t = t

    def set(self, t):
        self.t = int(t)

    def now(self):
        return self.t if self.t is not None else 0

    def is_set(self):
        # 1704067200 = 2024-01-01: anything earlier means "never synced".
        return self.t is not None and self.t >= 1704067200
