# Board services around the device loop (device.py): the watchdog, the status LED, the
# pace of Wi-Fi retries and the pause between passes (awake with the watchdog fed, or
# in deep sleep with the schedule kept). A service the port lacks is skipped (the
# unix port has no WDT, no LED and no deep sleep), so the same loop runs everywhere.
#
# Options: the "board" object of config.json with the defaults of config.py's table,
# read on their own at start (config.board_options, through run_once): a broken file
# means the defaults, and the agent reports it.
import time

from drsagent import log
from drsagent.compat import const, run_once

_MIN_DEEP_SLEEP_S = const(60)  # shorter pauses stay awake: a boot costs more than it saves
_CLOCK_RETRY_S = const(60)  # clock not set (no NTP yet): nothing can be ordered, retry soon


class Board:
    """The board services of one boot. machine: the board module (tests pass a fake)."""

    def __init__(self, store, clock, options, machine=None):
        self.store = store
        self.clock = clock
        self.machine = machine
        self.status = None  # the status-LED hook: first, a bad pin fails before the WDT runs
        pin = options.get("status_led")
        if pin is not None:
            from drsagent.hal.status_led import StatusLed

            self.status = StatusLed(pin, options["status_led_active_low"], machine)
        self.deep_sleep = False
        if options["deep_sleep"]:
            from drsagent.hal import sleep

            self.deep_sleep = sleep.available(machine)
        self.last_sync = 0  # when NTP last set the clock (kept across deep sleep)
        watchdog_s = options["watchdog_s"]
        self.watchdog = None
        if watchdog_s:
            from drsagent.hal import watchdog

            self.watchdog = watchdog.start(watchdog_s, machine)
            self.feed_every_s = watchdog.timeout_s(watchdog_s) // 2
        try:
            from drsagent.hal import wifi
        except ImportError:  # no `network` module: the host has the networking
            wifi = None
        self.wifi = wifi

    @staticmethod
    def start(store, clock, machine=None):
        """The services for this boot; after a deep-sleep wake the schedule is resumed
        (and a wake before the next pass is due goes back to sleep)."""
        options = run_once("config", "board_options", store)  # config.json's board object
        try:
            board = Board(store, clock, options, machine)
        except Exception as e:  # a bad LED pin must not stop the boot (a crash loop)
            log.error("board: %s: %s; no status LED" % (type(e).__name__, e))
            options["status_led"] = None
            board = Board(store, clock, options, machine)
        if board.deep_sleep:
            board.resume()
        return board

    def resume(self):
        from drsagent.hal import sleep

        schedule = sleep.resume(self.store, self.machine)
        if not schedule:
            return
        self.last_sync = schedule.get("sync", 0)
        early_s = schedule.get("next", 0) - self.clock.now()
        if early_s >= _MIN_DEEP_SLEEP_S:  # woken early (a reset button, a glitch)
            self.pause(early_s)

    def feed(self):
        if self.watchdog is not None:
            self.watchdog.feed()

    def next_wait(self, interval_s):
        """The pause before the next pass: the loop's interval, shorter while Wi-Fi is
        down (its backoff) or the clock is not set."""
        if self.wifi is not None and self.wifi.retry_in_s():
            interval_s = min(interval_s, self.wifi.retry_in_s())
        if not self.clock.is_set():
            interval_s = min(interval_s, _CLOCK_RETRY_S)
        return interval_s

    def pause(self, seconds, wait=time.sleep):
        """Wait `seconds` until the next pass: deep sleep when enabled (the schedule
        goes to RTC memory first), else awake in slices that feed the watchdog.
        wait(s) is the waiting itself (time.sleep keeps Wi-Fi associated; the setup
        console serves the port meanwhile); True when a wait(s) returned true (the
        console changed the files: the loop reloads them)."""
        if self.deep_sleep and seconds >= _MIN_DEEP_SLEEP_S:
            from drsagent.hal import sleep

            schedule = {"next": self.clock.now() + seconds, "sync": self.last_sync}
            sleep.save(schedule, self.store, self.machine)
            self.feed()
            sleep.deep_sleep(seconds, self.machine)
            return False  # only a fake machine returns from deep sleep
        changed = False
        while seconds > 0:
            part = min(seconds, self.feed_every_s) if self.watchdog is not None else seconds
            changed = bool(wait(part)) or changed
            seconds -= part
            self.feed()
        return changed
