# Sensors, clock and network: one driver per module, imported by name so a board only
# loads what it uses.
#
# A sensor driver module has make(config) -> a callable that returns the raw reading
# (a number) or None (config: the slot's config), and SENSOR_KEYS: its keys of the
# slot's "sensor" object in config.py's table language ("dout i, sck i, samples c=5"),
# checked (and their defaults filled in) by the boot-time validator. SENSOR_DRIVERS
# lists the driver modules.
#
# Also here, because every clock and http.py need it and this package is always
# loaded: the one definition of "the clock is set", and the RTC in Unix epoch seconds.
import time

from drsagent.compat import const

SENSOR_DRIVERS = ("sim", "hx711", "vl53l0x", "ultrasonic", "adc", "counter")

# 2024-01-01T00:00:00Z; a clock before this was never synced (RTC default 2000/1970).
_SET_AFTER = const(1704067200)
# Seconds between 1970-01-01 and 2000-01-01 (ESP32 ports count from 2000).
_EPOCH_2000 = const(946684800)


def clock_is_set(t):
    """True once a clock reading t (Unix epoch seconds) can be trusted."""
    return t >= _SET_AFTER


def rtc_now():
    """The RTC's time in Unix epoch seconds, whatever the port's epoch."""
    # Ports with a 2000 epoch report gmtime(0) as year 2000.
    return int(time.time()) + (_EPOCH_2000 if time.gmtime(0)[0] == 2000 else 0)
