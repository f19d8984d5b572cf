import ast
import json
import sys
import types

import pytest
from drsagent import config as config_schema
from drsagent import errors, hal
from drsagent.boot import make_sensor
from drsagent.hal import sim
from script_server import FIRMWARE, needs_micropython

from host_tests.fakes import SECRETS, config, slot_cfg


def test_make_sensor_sim_reads_injected_raw():
    s = make_sensor({"id": "s1", "sensor": {"driver": "sim", "empty": 0, "full": 1}})
    sim.RAW["s1"] = 123.5
    assert s() == 123.5
    sim.RAW.pop("s1")
    assert s() is None


def _validated_sensor(**sensor):
    slot = {"id": "s1", "sensor": dict({"empty": 0, "full": 1000}, **sensor)}
    return config_schema.validate_config(config(slot))["slots"][0]["sensor"]


def test_unknown_driver_is_a_config_error_naming_the_known_ones():
    with pytest.raises(errors.ConfigError) as e:
        _validated_sensor(driver="lidar9000")
    assert str(e.value) == (
        "config.json: slots[0].sensor.driver: expected a driver of hal.SENSOR_DRIVERS ("
        + ", ".join(hal.SENSOR_DRIVERS)
        + "), got 'lidar9000'"
    )


def test_hx711_without_dout_fails_validation():
    with pytest.raises(errors.ConfigError) as e:
        _validated_sensor(driver="hx711", sck=5)
    assert str(e.value) == ("config.json: slots[0].sensor.dout: missing, expected an integer >= 0")


def test_hx711_keys_are_checked_and_defaulted_by_the_driver_table():
    assert _validated_sensor(driver="hx711", dout=0, sck=5)["samples"] == 5  # GPIO0 is a pin
    with pytest.raises(errors.ConfigError) as e:
        _validated_sensor(driver="hx711", dout=-1, sck=5)
    assert "slots[0].sensor.dout: expected an integer >= 0, got -1" in str(e.value)


@pytest.mark.parametrize("name", hal.SENSOR_DRIVERS)
def test_every_listed_driver_declares_its_keys_and_make(name):
    module = __import__("drsagent.hal." + name, None, None, ("make",), 0)
    assert callable(module.make)
    assert isinstance(module.SENSOR_KEYS, str)
    for item in filter(None, module.SENSOR_KEYS.split(", ")):
        key, kind = item.split()
        assert kind[0] in "olsSubhnpzfci", item


def test_filter_defaults_come_from_the_schema():
    sensor = _validated_sensor(driver="sim")
    assert (sensor["stuck_readings"], sensor["spike"], sensor["fault_after"]) == (48, 0.3, 3)
    assert slot_cfg()["sensor"]["spike"] == 0.3


def test_sim_clock():
    c = sim.SimClock()
    assert not c.is_set()
    c.set(946684800)  # year 2000: an unsynced RTC
    assert not c.is_set()
    c.set(1767225600.0)
    assert c.is_set() and c.now() == 1767225600


def test_system_clock_is_epoch_seconds():
    import time

    from drsagent.hal.clock import SystemClock

    c = SystemClock()
    assert abs(c.now() - time.time()) < 5  # CPython and the unix port count from 1970
    assert c.is_set()  # the test host's clock is synced


def test_one_definition_of_a_set_clock():
    from drsagent.hal import clock_is_set, rtc_now, sim

    assert not clock_is_set(1704067199)  # before 2024-01-01: never synced
    assert clock_is_set(1704067200)
    assert clock_is_set(rtc_now())  # the test host's clock is synced
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

    read = []  # _network swallows any error of the secrets' load: record, do not raise

    class NoStore:
        def read_json(self, name):
            read.append(name)

    assert device._network(NoStore(), None, 7) == 7
    assert read == []  # no secrets needed on a port without Wi-Fi


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

    class Store:  # secrets.json, read and checked by config.load_secrets
        def read_json(self, name):
            return {"wifi": {"ssid": "home", "password": "pw"}, **SECRETS}

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
