# Sensors, clock and network: one driver per module, imported by name so a board only
# loads what it uses. A sensor driver module has make(slot config) -> a callable that
# returns the raw reading (a number) or None, and SENSOR_KEYS: its keys of the slot's
# "sensor" object in config.py's table language ("key kind, ..."). boot.make_sensor
# picks the module by the slot's sensor.driver, one of SENSOR_DRIVERS.
SENSOR_DRIVERS = ("sim", "hx711", "vl53l0x", "ultrasonic", "adc", "counter")

try:  # the drivers' timeouts: ticks wrap on a board, so always compare with ticks_diff
    from time import ticks_diff, ticks_ms
except ImportError:  # CPython (host tests)
    import time

    def ticks_ms():
        return int(time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b


def median(values):
    """Middle value of a non-empty list (the mean of the two middle ones if even);
    sorts the list in place (callers pass a scratch list)."""
    values.sort()
    n = len(values)
    if n & 1:
        return values[n // 2]
    return (values[n // 2 - 1] + values[n // 2]) / 2
