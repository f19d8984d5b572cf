# Raw reading -> level fraction, and the filter that keeps garbage away from the policy.
from drsagent.compat import const

LOW_LIMIT = -0.05  # a little outside 0..1 is calibration drift: clamp it
HIGH_LIMIT = 1.05  # further out is a broken sensor: reject it
_CONFIRM = const(2)  # further consistent readings that confirm a big jump


def calibrate(raw, empty, full):
    """Linear raw -> fraction; works whether the raw value grows or shrinks when full."""
    return (raw - empty) / (full - empty)


class ReadingFilter:
    """Feed raw readings, get accepted fractions (0..1) or None.

    After `fault_after` consecutive rejections `fault` holds the reason until a
    reading is accepted again. `reason` is the last rejection reason.
    """

    def __init__(self, empty, full, stuck_readings=48, spike=0.3, fault_after=3, level=None):
        if empty == full:
            raise ValueError("empty == full")
        self.empty = empty
        self.full = full
        self.stuck_readings = stuck_readings
        self.spike = spike
        self.fault_after = fault_after
        self.level = level  # last accepted fraction
        self.fault = None
        self.reason = None
        self.rejects = 0
        self._last_raw = None
        self._same = 0
        self._pending = None  # unconfirmed big jump
        self._pcount = 0

    @classmethod
    def from_cfg(cls, sensor_cfg, level=None):
        return cls(
            sensor_cfg["empty"],
            sensor_cfg["full"],
            stuck_readings=sensor_cfg.get("stuck_readings", 48),
            spike=sensor_cfg.get("spike", 0.3),
            fault_after=sensor_cfg.get("fault_after", 3),
            level=level,
        )

    def _reject(self, why):
        self.reason = why
        self.rejects += 1
        if self.rejects >= self.fault_after:
            self.fault = why
        return None

    def feed(self, raw):
        # bool is an int subclass but never a valid reading
        if raw is None:
            return self._reject("none")
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            return self._reject("type")
        if raw - raw != 0:  # NaN and +-inf both give NaN here; no math import needed
            return self._reject("nan")
        if raw == self._last_raw:
            self._same += 1
        else:
            self._last_raw = raw
            self._same = 1
        if self.stuck_readings and self._same >= self.stuck_readings:
            return self._reject("stuck")
        x = calibrate(raw, self.empty, self.full)
        if x < LOW_LIMIT or x > HIGH_LIMIT:
            return self._reject("range")
        x = 0.0 if x < 0 else 1.0 if x > 1 else x
        lvl = self.level
        if lvl is not None and abs(x - lvl) > self.spike:
            # A refill or a glitch: hold it until further readings agree.
            p = self._pending
            if p is not None and abs(x - p) <= self.spike / 2:
                self._pcount += 1
            else:
                self._pending = x
                self._pcount = 0
            if self._pcount < _CONFIRM:
                return self._reject("spike")
        return self._accept(x)

    def _accept(self, x):
        self.level = x
        self._pending = None
        self._pcount = 0
        self.rejects = 0
        self.fault = None
        self.reason = None
        return x
