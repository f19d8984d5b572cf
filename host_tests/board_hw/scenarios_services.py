"""Board service scenarios (Wi-Fi backoff and status LED, NTP before the agent, the
watchdog, deep sleep with the schedule kept), MicroPython-compatible: run under
CPython and the MicroPython unix binary by test_board_services.py. The services are
the real firmware modules; `machine`, `network` and `ntptime` are fakehw's."""

from fakehw import FakeMachine, FakeNetwork, FakeNtptime, FakeTicks, Patch, installed_modules

T0 = 1767225600  # 2026-01-01T00:00:00Z


def _wifi(network, clock):
    """drsagent.hal.wifi on the fake network, its ticks and sleeps on the fake clock
    (patched in the module too: CPython keeps it imported from an earlier check)."""
    with installed_modules(network=network):
        from drsagent.hal import wifi
    wifi._failures = 0
    wifi._auth_reported = False
    return wifi, Patch(wifi, time=clock, network=network)


SECRETS = {"wifi": {"ssid": "home", "password": "hunter2-wifi"}}


class _ConfigFile:
    """A store whose config.json is `config` (for config.board_options)."""

    def __init__(self, config):
        self.config = config

    def read_json(self, name):
        return self.config


def board_options(**options):
    """The board options as the boot reads them: given ones plus config.py's defaults."""
    from drsagent.config import board_options as read

    return read(_ConfigFile({"board": options}))


def check_wifi_backoff_is_capped_and_resets():
    clock = FakeTicks()
    network = FakeNetwork(clock, attempts_needed=12)
    wifi, patch = _wifi(network, clock)
    waits = []
    with patch:
        for _ in range(11):
            assert not wifi.connect(SECRETS)
            waits.append(wifi.retry_in_s())
        assert wifi.connect(SECRETS)
    assert network.attempts == 12 and network.ssids == ["home"] * 12
    assert 5 <= waits[0] < 10, waits  # the first retry within the base of 10 s
    assert waits[3] >= 40  # growing
    assert max(waits) <= 600 and waits[-1] >= 300, waits  # capped at 10 minutes
    assert wifi.retry_in_s() == 0  # connected: no backoff left
    assert clock.ms >= 11 * 20000  # each failed attempt waited its 20 s (virtual)


def check_wifi_status_led_hook():
    from drsagent.hal.status_led import StatusLed

    clock = FakeTicks()
    machine = FakeMachine(clock)
    led = StatusLed(2, machine=machine)
    levels = []
    pin = machine.pins[2]
    pin.on_change = levels.append
    network = FakeNetwork(clock, attempts_needed=2)
    wifi, patch = _wifi(network, clock)
    with patch:
        assert not wifi.connect(SECRETS, status=led)
        assert pin.level == 0  # offline: off
        assert 0 in levels and 1 in levels  # blinked while connecting
        assert wifi.connect(SECRETS, status=led)
        assert pin.level == 1  # connected: on
    inverted = StatusLed(5, active_low=True, machine=machine)
    inverted("connected")
    assert machine.pins[5].level == 0  # an LED to 3V3 lights on a low pin


def check_wifi_wrong_password_reported_once_without_the_password():
    from drsagent import log

    clock = FakeTicks()
    network = FakeNetwork(clock, attempts_needed=99, wrong_password=True)
    wifi, patch = _wifi(network, clock)
    lines = []
    log.set_log_sink(lines.append)
    try:
        with patch:
            assert not wifi.connect(SECRETS)
            assert not wifi.connect(SECRETS)
    finally:
        log.set_log_sink(None)
    auth = [line for line in lines if "authentication failed" in line]
    assert len(auth) == 1, lines
    assert "home" in auth[0]
    assert "hunter2" not in "".join(lines)


def check_ntp_sets_the_clock_before_the_agent_runs():
    from drsagent import device
    from drsagent.board import Board
    from drsagent.hal import ntp, sim

    clock = sim.SimClock()  # not set: the RTC of a fresh boot
    network = FakeNetwork(FakeTicks())
    network.connected = True
    ntptime = FakeNtptime(failures=3, on_set=lambda: clock.set(T0))

    class Store:  # secrets.json, read and checked by config.load_secrets
        def read_json(self, name):
            return {
                "wifi": SECRETS["wifi"],
                "lwa": {"client_id": "c", "client_secret": "s", "refresh_token": "r"},
            }

    with installed_modules(network=network, ntptime=ntptime):
        with Patch(ntp, time=FakeTicks()):
            assert device._network(Store(), clock, 0) == 0  # 3 tries, all lost
            assert not clock.is_set()
            board = Board(Store(), clock, board_options(watchdog_s=0))
            assert board.next_wait(3600) == 60  # clock not set: try again in a minute
            assert device._network(Store(), clock, 0) == T0
    assert clock.is_set()
    assert ntptime.calls == 4
    assert board.next_wait(3600) == 3600


def _board(options, machine, clock, config_extra=None):
    from drsagent.board import Board
    from drsagent.store import FlashStore

    store = FlashStore()
    config = {"board": options}
    store.write_json("config.json", config)
    return Board.start(store, clock, machine)


def check_watchdog_fed_while_waiting():
    from drsagent.hal import sim

    clock = FakeTicks()
    machine = FakeMachine(clock)
    board = _board({"watchdog_s": 60}, machine, sim.SimClock(T0))
    assert machine.watchdog.timeout == 60000
    gaps = []
    assert board.pause(3600, wait=gaps.append) is False  # nothing changed meanwhile
    assert sum(gaps) == 3600 and max(gaps) <= 30, gaps  # never longer than half the timeout
    assert machine.watchdog.feeds == len(gaps)
    # the setup console serves the port while the loop waits: a change is reported
    answers = [False, True, False]
    assert board.pause(90, wait=lambda s: answers.pop(0)) is True
    short = _board({"watchdog_s": 5}, FakeMachine(clock), sim.SimClock(T0))
    assert short.watchdog.timeout == 30000  # raised to the minimum a TLS handshake needs
    off = _board({"watchdog_s": 0}, FakeMachine(clock), sim.SimClock(T0))
    assert off.watchdog is None
    waited = []
    off.pause(3600, wait=waited.append)
    assert waited == [3600]


def check_deep_sleep_keeps_the_schedule():
    import json

    from drsagent.hal import sim

    machine = FakeMachine()
    clock = sim.SimClock(T0)
    board = _board({"deep_sleep": True}, machine, clock)
    board.last_sync = T0 - 600
    board.pause(3600)
    assert machine.deepsleep_ms == 3600000
    assert json.loads(machine.rtc_memory) == {"next": T0 + 3600, "sync": T0 - 600}
    # the timer wakes the chip: a boot that resumes the schedule
    woken = FakeMachine()
    woken.cause = woken.DEEPSLEEP_RESET
    woken.rtc_memory = machine.rtc_memory
    board = _board({"deep_sleep": True}, woken, sim.SimClock(T0 + 3600))
    assert board.last_sync == T0 - 600  # no NTP at every wake
    assert woken.deepsleep_ms is None  # due: the pass runs now
    # woken 10 minutes early (a reset button): back to sleep for the rest
    early = FakeMachine()
    early.cause = early.DEEPSLEEP_RESET
    early.rtc_memory = machine.rtc_memory
    _board({"deep_sleep": True}, early, sim.SimClock(T0 + 3000))
    assert early.deepsleep_ms == 600000
    # a power-on is not a wake: the schedule is ignored
    cold = FakeMachine()
    cold.rtc_memory = machine.rtc_memory
    board = _board({"deep_sleep": True}, cold, sim.SimClock(T0 + 3000))
    assert board.last_sync == 0 and cold.deepsleep_ms is None
    # short pauses stay awake
    board.pause(30, wait=lambda s: None)
    assert cold.deepsleep_ms is None


def check_deep_sleep_schedule_on_flash_without_rtc_memory():
    from drsagent.hal import sim
    from drsagent.store import FlashStore

    machine = FakeMachine()
    machine.RTC = None
    board = _board({"deep_sleep": True}, machine, sim.SimClock(T0))
    board.pause(900)
    assert FlashStore().read_json("schedule.json") == {"next": T0 + 900, "sync": 0}
    woken = FakeMachine()
    woken.RTC = None
    woken.cause = woken.DEEPSLEEP_RESET
    _board({"deep_sleep": True}, woken, sim.SimClock(T0 + 300))
    assert woken.deepsleep_ms == 600000


def check_services_skipped_on_a_port_without_them():
    """No fake machine: the unix port's own (no WDT, no deep sleep) or none (CPython)."""
    from drsagent.board import Board
    from drsagent.hal import sim

    board = Board(None, sim.SimClock(T0), board_options(deep_sleep=True, watchdog_s=60))
    assert board.watchdog is None and board.deep_sleep is False and board.status is None
    waited = []
    board.pause(120, wait=waited.append)
    assert waited == [120]


def check_bad_board_options_fall_back_to_defaults():
    from drsagent import log
    from drsagent.hal import sim

    machine = FakeMachine()

    class NoSuchPin:
        OUT = 1

        def __call__(self, *args):
            raise ValueError("invalid pin")

    machine.Pin = NoSuchPin()
    lines = []
    log.set_log_sink(lines.append)
    try:
        board = _board({"status_led": 99}, machine, sim.SimClock(T0))
    finally:
        log.set_log_sink(None)
    assert board.status is None and board.watchdog is not None
    assert any("invalid pin" in line for line in lines), lines


class _StopLoop(BaseException):
    """Ends device.main() after its first pass (not an Exception: the loop's handler
    must not swallow it)."""


def check_device_main_runs_a_pass_with_the_board_services():
    """device.main() itself: board services started, Wi-Fi and NTP before the agent,
    the watchdog fed, then the pause (a config error: retry in a minute)."""
    from drsagent import console, device
    from drsagent.board import Board
    from drsagent.store import FlashStore

    class PortNotUnderTest:  # the setup console has its own tests (host_tests/board)
        def __init__(self, store, clock):
            pass

        def serve(self, seconds, agent=None):
            return False

    # Wi-Fi and LwA provisioned, config.json not yet (nothing here is token-shaped)
    lwa = {"client_id": "test-client", "client_secret": "not-used", "refresh_token": "not-used"}
    FlashStore().save_secrets({"wifi": SECRETS["wifi"], "lwa": lwa})
    machine = FakeMachine()
    network = FakeNetwork(FakeTicks())
    network.connected = True
    ntptime = FakeNtptime()
    pauses = []

    def pause(board, seconds, wait=None):
        pauses.append(seconds)
        raise _StopLoop()

    with installed_modules(machine=machine, network=network, ntptime=ntptime):
        wifi, patch = _wifi(network, FakeTicks())
        with patch, Patch(Board, pause=pause), Patch(console, Console=PortNotUnderTest):
            try:
                device.main()
            except _StopLoop:
                pass
    assert pauses == [60], pauses  # no config.json yet: look again in a minute
    assert machine.watchdog is not None and machine.watchdog.feeds >= 2
    assert ntptime.calls == 1  # the clock synced before the agent's first pass


def check_board_options_defaults_and_a_broken_file():
    from drsagent.config import board_options as read

    assert board_options() == {
        "status_led_active_low": False,
        "watchdog_s": 300,
        "deep_sleep": False,
    }
    assert board_options(status_led=2)["status_led"] == 2
    assert read(_ConfigFile({"board": {"watchdog_s": "soon"}}))["watchdog_s"] == 300
    assert read(_ConfigFile([1, 2]))["deep_sleep"] is False

    class NoFile:
        def read_json(self, name):
            raise OSError(2)

    assert read(NoFile())["watchdog_s"] == 300
