# Simulator drivers: the harness injects the raw reading and the time per tick.
from drsagent.hal import clock_is_set

# slot id -> raw value of the current tick (number, None or junk such as "nan").
RAW = {}

SENSOR_KEYS = ""  # the harness supplies the readings: no wiring to configure


def make(config):
    slot_id = config["id"]
    return lambda: RAW.get(slot_id)


class SimClock:
    """Virtual clock: returns the tick's time until the next tick sets it."""

    def __init__(self, t=None):
        self.t = t

    def set(self, t):
        self.t = int(t)

    def now(self):
        return self.t or 0

    def is_set(self):
        return clock_is_set(self.t or 0)
