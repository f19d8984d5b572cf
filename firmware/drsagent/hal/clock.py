# Wall clock for real boards and the unix port, always in Unix epoch seconds.
import time

# 2024-01-01T00:00:00Z; a clock before this was never synced (RTC default 2000/1970).
_SET_AFTER = 1704067200
# Seconds between 1970-01-01 and 2000-01-01 (ESP32 ports count from 2000).
_EPOCH_2000 = 946684800


class SystemClock:
    def __init__(self):
        # Ports with a 2000 epoch report gmtime(0) as year 2000.
        self.offset = _EPOCH_2000 if time.gmtime(0)[0] == 2000 else 0

    def now(self):
        return int(time.time()) + self.offset

    def is_set(self):
        return self.now() >= _SET_AFTER
