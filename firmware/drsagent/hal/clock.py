# Wall clock for real boards and the unix port, always in Unix epoch seconds.
from drsagent.hal import clock_is_set, rtc_now


class SystemClock:
    def now(self):
        return rtc_now()

    def is_set(self):
        return clock_is_set(rtc_now())
