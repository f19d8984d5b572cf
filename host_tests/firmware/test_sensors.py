import ast
import json
import math
import sys
import types
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import conftest_brain  # noqa: E402,F401  (puts firmware/ on sys.path)
from conftest_brain import FIRMWARE  # noqa: E402
from drsagent import errors  # noqa: E402
from drsagent.agent import feed, new_filter  # noqa: E402
from drsagent.boot import make_sensor  # noqa: E402
from drsagent.hal import sim  # noqa: E402
from fwhelpers import needs_micropython  # noqa: E402


class ReadingFilter:
    """Test view of the filter functions: a sensor config and the filter list."""

    def __init__(self, empty, full, level=None, **opts):
        self.s = dict(opts, empty=empty, full=full)
        self.f = new_filter(level)

    def feed(self, raw):
        return feed(self.f, self.s, raw)

    level = property(lambda self: self.f[0])
    fault = property(lambda self: self.f[1])
    reason = property(lambda self: self.f[2])
    rejects = property(lambda self: self.f[3])


def filt(**kw):
    return ReadingFilter(0, 1000, **kw)


def test_calibration_both_directions():
    assert ReadingFilter(0, 1000).feed(250) == pytest.approx(0.25)
    # a distance sensor reads less when fuller: empty > full
    assert ReadingFilter(1000, 0).feed(250) == pytest.approx(0.75)
    assert ReadingFilter(12000, 845000).feed(12000) == 0
    assert ReadingFilter(12000, 845000).feed(845000) == 1


@pytest.mark.parametrize(
    "raw,reason",
    [
        (None, "none"),
        (math.nan, "nan"),
        (math.inf, "nan"),
        (-math.inf, "nan"),
        ("nan", "type"),
        ("500", "type"),
        (True, "type"),
        ([500], "type"),
        (1100, "range"),  # fraction 1.1 > 1.05
        (-60, "range"),  # fraction -0.06 < -0.05
    ],
)
def test_garbage_rejected(raw, reason):
    f = filt()
    assert f.feed(500) == 0.5
    assert f.feed(raw) is None
    assert f.reason == reason
    assert f.level == 0.5  # the accepted level is untouched
    assert f.fault is None  # one rejection is not a fault yet


def test_slightly_out_of_range_is_clamped():
    f = filt()
    assert f.feed(1040) == 1.0
    assert f.feed(1000) == 1.0
    f2 = filt()
    assert f2.feed(-40) == 0.0


def test_fault_after_consecutive_rejections_and_recovery():
    f = filt(fault_after=3)
    assert f.feed(400) == 0.4
    f.feed(None)
    f.feed(math.nan)
    assert f.fault is None
    f.feed(None)
    assert f.fault == "none"
    assert f.feed(401) == pytest.approx(0.401)
    assert f.fault is None and f.rejects == 0


def test_stuck_sensor():
    f = filt(stuck_readings=5)
    out = [f.feed(700) for _ in range(7)]
    assert out[:4] == [0.7] * 4
    assert out[4:] == [None, None, None]
    assert f.reason == "stuck"
    assert f.fault == "stuck"  # 3 rejections in a row
    assert f.feed(699) == pytest.approx(0.699)  # moves again: fine
    assert f.fault is None


def test_stuck_detection_disabled_with_zero():
    f = filt(stuck_readings=0)
    assert all(f.feed(700) == 0.7 for _ in range(200))


def test_one_off_spike_is_not_accepted():
    f = filt()
    assert f.feed(300) == 0.3
    assert f.feed(950) is None  # glitch
    assert f.reason == "spike"
    assert f.feed(301) == pytest.approx(0.301)  # back to normal: glitch forgotten
    assert f.level == pytest.approx(0.301)
    assert f.feed(960) is None  # a new glitch starts over, no stale confirmation
    assert f.feed(299) == pytest.approx(0.299)


def test_refill_accepted_after_two_confirming_readings():
    f = filt()
    assert f.feed(100) == 0.1
    assert f.feed(950) is None
    assert f.feed(960) is None
    assert f.feed(955) == pytest.approx(0.955)
    assert f.level == pytest.approx(0.955)
    assert f.fault is None


def test_inconsistent_jumps_never_confirm():
    f = filt(fault_after=10)
    f.feed(100)
    for raw in (950, 500, 950, 500, 950):
        assert f.feed(raw) is None
    assert f.level == 0.1


def test_filter_seeded_level_holds_a_glitch_after_reboot():
    f = ReadingFilter(0, 1000, level=0.2)
    assert f.feed(900) is None
    assert f.feed(210) == pytest.approx(0.21)


def test_sensor_config_options():
    f = ReadingFilter(0, 1000, stuck_readings=7, fault_after=4)
    assert [f.feed(500) for _ in range(7)][-2:] == [0.5, None]  # the 7th is stuck
    assert [f.feed(500) for _ in range(3)] == [None] * 3 and f.fault == "stuck"
    f = ReadingFilter(0, 1000, spike=0.5)
    assert f.feed(100) == 0.1 and f.feed(550) == 0.55  # a jump below the spike size
    f = ReadingFilter(0, 1000)  # defaults: stuck after 48, spike 0.3, fault after 3
    assert all(f.feed(700) == 0.7 for _ in range(47)) and f.feed(700) is None
    assert f.feed(300) is None and f.reason == "spike"


def test_make_sensor_sim_reads_injected_raw():
    s = make_sensor({"id": "s1", "sensor": {"driver": "sim", "empty": 0, "full": 1}})
    sim.RAW["s1"] = 123.5
    assert s() == 123.5
    sim.RAW.pop("s1")
    assert s() is None


def test_make_sensor_unknown_driver_is_config_error():
    with pytest.raises(errors.ConfigError) as e:
        make_sensor({"id": "s1", "sensor": {"driver": "lidar9000"}})
    assert "lidar9000" in str(e.value) and "s1" in str(e.value)


def test_sim_clock():
    c = sim.SimClock()
    assert not c.is_set()
    c.set(946684800)  # year 2000: an unsynced RTC
    assert not c.is_set()
    c.set(1767225600.0)
    assert c.is_set() and c.now() == 1767225600


def test_system_clock_is_epoch_seconds():
    import time

    from drsagent.hal import clock

    c = clock.SystemClock()
    assert abs(c.now() - time.time()) < 5  # CPython and the unix port count from 1970
    assert c.is_set()  # the test host's clock is synced


def test_one_definition_of_a_set_clock():
    from drsagent.hal import clock, sim

    assert not clock.is_set(1704067199)  # before 2024-01-01: never synced
    assert clock.is_set(1704067200)
    assert not sim.SimClock(1704067199).is_set()
    assert sim.SimClock(1704067200).is_set()
    assert not sim.SimClock().is_set()


# -- HX711 with a fake machine module ---------------------------------------------


class FakeHX:
    """Pins of an HX711 that converts `values` (24-bit two's complement) in turn.

    DOUT is low when a conversion is ready; each SCK rising edge shifts the next bit
    out (MSB first); the 25th edge ends the read and the next conversion is ready.
    """

    def __init__(self, values, ready=True):
        self.values = list(values)
        self.ready = ready
        self.edges = 0  # rising edges within the current read
        self.sck_level = 0
        self.pulses = 0
        hx = self

        class Pin:
            IN = 0
            OUT = 1

            def __init__(self, n, mode):
                self.mode = mode

            def value(self, v=None):
                if self.mode == Pin.IN:
                    return hx.dout()
                if v is None:
                    return hx.sck_level
                if v == 1 and hx.sck_level == 0:
                    hx.rise()
                hx.sck_level = v
                return None

        self.machine = types.SimpleNamespace(
            Pin=Pin, disable_irq=lambda: 0, enable_irq=lambda s: None
        )

    def dout(self):
        if self.edges == 0:
            return 0 if (self.ready and self.values) else 1
        if self.edges <= 24:
            return (self.values[0] & 0xFFFFFF) >> (24 - self.edges) & 1
        return 1

    def rise(self):
        self.pulses += 1
        if self.edges == 0 and not (self.ready and self.values):
            return
        self.edges += 1
        if self.edges == 25:
            self.values.pop(0)
            self.edges = 0


def test_hx711_reads_and_averages_twos_complement():
    from drsagent.hal.hx711 import HX711

    hw = FakeHX([1000, 3000, -2000 & 0xFFFFFF, 0, 4000])
    h = HX711(16, 17, samples=5, machine=hw.machine)
    assert h.read() == pytest.approx((1000 + 3000 - 2000 + 0 + 4000) / 5)
    assert hw.pulses >= 5 * 25


def test_hx711_timeout_returns_none():
    from drsagent.hal.hx711 import HX711

    hw = FakeHX([], ready=False)  # DOUT never goes low
    h = HX711(16, 17, samples=3, timeout_ms=20, machine=hw.machine)
    assert h.read() is None
    assert hw.sck_level == 1  # powered down after the failed read


def _wrapping_ticks(period, start, step=7, limit=10000):
    """A ticks_ms starting just before the wrap (now["t"]); fails instead of hanging."""
    now = {"t": start, "calls": 0}

    def ticks_ms():
        now["calls"] += 1
        if now["calls"] > limit:
            raise AssertionError("still waiting for DOUT: the timeout missed the wrap")
        now["t"] = (now["t"] + step) % period
        return now["t"]

    return ticks_ms, now


def test_hx711_timeout_survives_the_ticks_wrap(monkeypatch):
    from drsagent.hal import hx711

    period = 1 << 30  # ESP32: ticks_ms wraps every ~12.4 days

    def ticks_diff(a, b):  # time.ticks_diff of the board
        d = (a - b) & (period - 1)
        return d - period if d >= period // 2 else d

    ticks_ms, now = _wrapping_ticks(period, period - 100)
    monkeypatch.setattr(hx711, "ticks_ms", ticks_ms)
    monkeypatch.setattr(hx711, "ticks_diff", ticks_diff)
    hw = FakeHX([], ready=False)  # an unplugged amplifier: DOUT stays high
    h = hx711.HX711(16, 17, samples=3, timeout_ms=500, machine=hw.machine)
    assert h.read() is None
    assert now["t"] < 1000  # gave up ~500 ms after the wrap, not a period later


@pytest.mark.micropython
@needs_micropython
def test_hx711_timeout_on_micropython_across_the_wrap(mpy):
    # the real time.ticks_diff of the port, with ticks_ms starting just before its wrap
    out = mpy(
        """
        import json, time
        from drsagent.hal import hx711
        P = time.ticks_add(0, -1) + 1
        n = [P - 50, 0]
        def fake():
            n[1] += 1
            if n[1] > 10000:
                raise RuntimeError("stuck")
            n[0] = time.ticks_add(n[0], 7)
            return n[0]
        hx711.ticks_ms = fake
        class Pin:
            IN = 0
            OUT = 1
            def __init__(self, p, mode):
                pass
            def value(self, v=None):
                return 1 if v is None else None
        class M:
            Pin = Pin
            def disable_irq():
                return 0
            def enable_irq(s):
                pass
        h = hx711.HX711(16, 17, samples=2, timeout_ms=500, machine=M)
        print(json.dumps({"read": h.read(), "calls": n[1], "after_wrap": n[0] < 1000}))
        """
    )
    r = json.loads(out)
    assert r == {"read": None, "calls": r["calls"], "after_wrap": True}
    assert 70 <= r["calls"] <= 90


# -- board modules stay in hal drivers ------------------------------------------------

BOARD_MODULES = {"machine", "network", "ntptime", "esp", "esp32", "neopixel", "bluetooth"}


def test_board_modules_are_imported_only_in_hal_drivers():
    for path in sorted((FIRMWARE / "drsagent").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            bad = {n.split(".")[0] for n in names} & BOARD_MODULES
            assert not bad, f"{path.name}:{node.lineno} imports {bad}: use a drsagent.hal driver"


def _forget_wifi(monkeypatch):
    from drsagent import hal

    monkeypatch.delitem(sys.modules, "drsagent.hal.wifi", raising=False)
    monkeypatch.delattr(hal, "wifi", raising=False)


def test_device_network_without_wifi_is_a_no_op(monkeypatch):
    from drsagent import device

    _forget_wifi(monkeypatch)
    monkeypatch.setitem(sys.modules, "network", None)  # import network -> ImportError

    class NoStore:
        def load_secrets(self):
            raise AssertionError("no secrets needed on a port without Wi-Fi")

    assert device._network(NoStore(), None, 7) == 7


def test_device_network_connects_and_syncs_through_the_hal(monkeypatch):
    from drsagent import device

    _forget_wifi(monkeypatch)
    seen = []

    class WLAN:
        def __init__(self, iface):
            seen.append(("WLAN", iface))

        def active(self, on):
            seen.append(("active", on))

        def isconnected(self):
            return True

    monkeypatch.setitem(sys.modules, "network", types.SimpleNamespace(WLAN=WLAN, STA_IF=0))
    ntptime = types.SimpleNamespace(host="pool.ntp.org", settime=lambda: seen.append("ntp"))
    monkeypatch.setitem(sys.modules, "ntptime", ntptime)

    class Store:
        def load_secrets(self):
            return {"wifi": {"ssid": "home", "password": "pw"}}

    clock = sim.SimClock()
    clock.set(1767225600)
    assert device._network(Store(), clock, 0) == 1767225600
    assert seen == [("WLAN", 0), ("active", True), "ntp"]
    # synced less than a day ago: Wi-Fi checked, no NTP
    assert device._network(Store(), clock, 1767225600 - 3600) == 1767225600 - 3600
    assert seen.count("ntp") == 1


@pytest.mark.micropython
@needs_micropython
def test_device_network_on_the_unix_port(mpy):
    out = mpy(
        """
        from drsagent import device
        print(device._network(None, None, 5))
        """
    )
    assert out.strip() == "5"
