# Tare/calibration of a slot's sensor, for the setup console: read the sensor with the
# container empty, then full, and return the sensor.empty/full values to store in
# config.json. Imported only while calibrating (the console loads and drops it).
from drsagent.compat import const
from drsagent.errors import ConfigError

_SAMPLES = const(5)
# empty and full closer than this fraction of the larger magnitude: the container was
# not really emptied/filled, or the sensor does not see the level at all
_MIN_SPAN = 0.01


def measure(read, samples=_SAMPLES):
    """Median raw reading of `samples` calls of the sensor callable `read`; ConfigError
    when the sensor answers fewer than half of them (not connected)."""
    from drsagent.hal.sampling import median

    values = []
    for _ in range(samples):
        try:
            v = read()
        except Exception:  # a driver that raises is a sensor that is not there
            v = None
        # a number, not a bool, not NaN/inf (v - v is NaN for both)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v - v == 0:
            values.append(v)
    if len(values) * 2 <= samples:
        raise ConfigError("calibrate: the sensor gives no reading (check its wiring)")
    return median(values)


def result(empty, full):
    """{"empty": e, "full": f} for sensor.empty/full; ConfigError when the two readings
    cannot tell a level (equal, or closer than 1 %)."""
    span = abs(full - empty)
    if span == 0 or span < _MIN_SPAN * max(abs(full), abs(empty)):
        raise ConfigError(
            "calibrate: empty (%s) and full (%s) read the same: fill or empty the"
            " container and measure again" % (empty, full)
        )
    return {"empty": empty, "full": full}


def calibrate(slot, read_empty, read_full, make_sensor=None):
    """Whole routine for one slot config: read_empty()/read_full() are called when the
    container is empty/full (the console asks the user and waits); returns the values
    to store. make_sensor(slot) builds the sensor callable (boot.make_sensor)."""
    if make_sensor is None:
        from drsagent.boot import make_sensor
    read = make_sensor(slot)
    read_empty()
    empty = measure(read)
    read_full()
    full = measure(read)
    return result(empty, full)


def apply(config, slot_id, values):
    """Put calibration values into the slot of config (a dict of config.json) with id
    slot_id; ConfigError when no slot has that id. The caller validates and writes."""
    for slot in config.get("slots") or ():
        if isinstance(slot, dict) and slot.get("id") == slot_id:
            slot["sensor"].update(values)
            return config
    raise ConfigError("calibrate: no slot with id %r" % slot_id)
