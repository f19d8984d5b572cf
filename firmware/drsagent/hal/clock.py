# Wall clock for real boards and the unix port, always in Unix epoch seconds, and the
# one definition of "the clock is set" (SystemClock, SimClock and http.py use it).
import time

from drsagent.compat import const

# 2024-01-01T00:00:00Z; a clock before this was never synced (RTC default 2000/1970).
_SET_AFTER = const(1704067200)
# Seconds between 1970-01-01 and 2000-01-01 (ESP32 ports count from 2000).
_EPOCH_2000 = const(946684800)
# Ports with a 2000 epoch report gmtime(0) as year 2000.
_PORT_EPOCH_OFFSET = _EPOCH_2000 if time.gmtime(0)[0] == 2000 else 0


def is_set(epoch_seconds):
    """True once a clock reading can be trusted (NTP or the harness set it)."""
    return epoch_seconds >= _SET_AFTER


def system_now():
    """The RTC's time in Unix epoch seconds, whatever the port's epoch."""
    return int(time.time()) + _PORT_EPOCH_OFFSET


class SystemClock:
    def now(self):
        return system_now()

    def is_set(self):
        return is_set(system_now())
