import json
import sys
from pathlib import Path

import pytest
from drsagent import errors
from drsagent.agent import Agent

from host_tests.fake_tokens import REFRESH
from host_tests.fakes import (
    DAY,
    HOUR,
    T0,
    Events,
    FakeAmazon,
    FakeClock,
    FakeStore,
    config,
    slot_cfg,
)


class Noisy:
    """A healthy sensor: a level in raw counts (0..1000) with a little noise."""

    def __init__(self, level):
        self.level = level
        self.i = 0

    def read(self):
        self.i += 1
        if self.level is None:
            return None
        return self.level * 1000 + (self.i % 3) * 0.5


def boot(store, clock=None, sensors=None, amazon=None, installed=True):
    """The agent from the store's files; installed: it has taken its first reading
    (held until the next agrees: reading.py) in a pass just before the test's."""
    clock = clock or FakeClock()
    amazon = amazon or FakeAmazon(clock)
    sensors = sensors if sensors is not None else {}
    events = Events()
    built = []

    def make_sensor(c):  # a sensor is a callable: its read()
        return sensors.setdefault(c["id"], Noisy(0.9)).read

    def make_drs(cfg, secrets, st, clk):
        built.append(cfg)
        return amazon

    agent = Agent.from_flash(store, clock, make_sensor, make_drs, emit=events)
    agent.t_events, agent.t_amazon, agent.t_clock, agent.t_built = events, amazon, clock, built
    if installed:
        agent.step()
    return agent


def run(agent, hours, step=HOUR):
    for _ in range(int(hours)):
        agent.step()
        agent.t_clock.advance(step)


def test_boot_counts_and_saves():
    store = FakeStore(config(), state={"v": 1, "boots": 4, "last_device_status": 0, "slots": {}})
    a = boot(store)
    assert a.state["boots"] == 5 and store.saved[-1]["boots"] == 5
    assert a.t_events.items[0] == {"ev": "boot", "t": T0, "boots": 5}
    assert a.error is None and [lane[0] for lane in a.lanes] == ["toner"]


def test_steady_state_one_device_status_per_day_and_few_saves():
    store = FakeStore(config())
    a = boot(store)
    run(a, 72)  # three days, hourly, level high and steady
    calls = a.t_amazon.calls
    ds = [c for c in calls if c[0] == "device_status"]
    # at once after the first boot, then daily at 03:00 + PRN-1's offset (2265 s): 04:00
    assert [c[1] for c in ds] == [T0, T0 + DAY + 4 * HOUR, T0 + 2 * DAY + 4 * HOUR]
    assert all(c[2] == "PRN-1" for c in ds)
    assert len(calls) == 3  # no slotStatus, no orders
    assert store.saved[-1]["last_device_status"] == T0 + 2 * DAY + 4 * HOUR
    # flash wear: estimator-only changes are saved every ~6 h, not every hour
    assert 10 <= len(store.saved) <= 20
    assert [e["op"] for e in a.t_events.of("report")] == ["deviceStatus"] * 3


def test_low_level_orders_with_latch_saved_first():
    store = FakeStore(config())
    a = boot(store, sensors={"toner": Noisy(0.05)})
    amazon = a.t_amazon
    latch = []
    amazon.before_call = lambda op: latch.append(
        (op, store.state["slots"]["toner"]["st"]) if op == "replenish" else None
    )
    a.step()  # the pass before (boot) held the first reading and sent deviceStatus
    assert ("replenish", "ordering") in latch
    assert amazon.placed == 1
    st = store.saved[-1]["slots"]["toner"]
    assert st["st"] == "ordered" and st["eid"] == "amzn1.dash.v2.o.0001"
    kinds = a.t_events.kinds()
    assert kinds.index("low") < kinds.index("order_placed")
    low = a.t_events.of("low")[0]
    assert low["reason"] == "floor" and abs(low["level"] - 0.05) < 0.01
    # the state change is reported with the next daily report
    assert [c[0] for c in amazon.calls] == ["device_status", "replenish"]
    run(a, 48)
    reports = [c for c in amazon.calls if c[0] in ("device_status", "slot_status")]
    assert [c[0] for c in reports[1:3]] == ["device_status", "slot_status"]
    report_t = reports[1][1]
    _, sid, remaining, original, expected, last_use = reports[2]
    assert sid == "toner" and original == 1.0 and abs(remaining - 0.05) < 0.002
    # DRS requires every field: no use measured yet -> a year out, last use = since
    assert expected == report_t + 365 * DAY and last_use == T0
    assert "rp" not in store.saved[-1]["slots"]["toner"]


def test_reboot_after_order_does_not_reorder():
    store = FakeStore(config())
    sensors = {"toner": Noisy(0.05)}
    a = boot(store, sensors=sensors)
    a.step()
    amazon, clock = a.t_amazon, a.t_clock
    for _ in range(3):  # three reboots in the next hours, still low
        clock.advance(HOUR)
        b = boot(store, clock=clock, sensors=sensors, amazon=amazon)
        run(b, 5)
    assert amazon.count("replenish") == 1 and amazon.placed == 1
    assert amazon.count("order_info") == 1  # with the daily report, not once per boot
    assert store.state["boots"] == 4


def test_sensor_garbage_never_orders():
    # persisted: the level was low already; now the sensor is disconnected
    state = {
        "v": 1,
        "boots": 1,
        "last_device_status": T0,
        "slots": {"toner": {"st": "idle", "eid": None, "since": T0, "l": 0.05, "t": T0}},
    }
    store = FakeStore(config(), state=state)
    sensors = {"toner": Noisy(None)}
    a = boot(store, sensors=sensors)
    run(a, 30)
    assert a.t_amazon.count("replenish") == 0
    faults = a.t_events.of("sensor_fault")
    assert len(faults) == 1 and faults[0]["reason"] == "none" and faults[0]["slot"] == "toner"
    # the fault is in the next daily report
    assert a.t_amazon.count("slot_status") == 1
    sensors["toner"].level = 0.06
    run(a, 1)
    assert a.t_events.kinds().count("sensor_ok") == 1
    assert a.t_amazon.placed == 1


def test_sensor_read_exception_is_a_rejected_reading():
    class Broken:
        def read(self):
            raise OSError("i2c")

    store = FakeStore(config(slot_cfg("a"), slot_cfg("b")))
    a = boot(store, sensors={"a": Broken(), "b": Noisy(0.05)})
    run(a, 3)
    assert a.t_events.of("sensor_fault")[0]["slot"] == "a"
    assert [c for c in a.t_amazon.calls if c[0] == "replenish"] == [("replenish", "b")]


def test_config_error_no_order_then_recovers():
    msg = "config.json: slots[0].sensor.empty: required, a number"
    store = FakeStore(errors.ConfigError(msg))
    a = boot(store, sensors={"toner": Noisy(0.05)})
    run(a, 5)
    assert a.t_events.of("config_error") == [{"ev": "config_error", "t": T0, "msg": msg}]
    assert a.t_built == [] and a.t_amazon.calls == []
    store.config = config()  # provisioning fixed the file
    run(a, 2)  # its first reading, then the one that confirms it (reading.py)
    assert a.error is None and a.t_amazon.placed == 1


def test_bad_secrets_is_config_error_too():
    store = FakeStore(config(), secrets=errors.ConfigError("secrets.json: missing"))
    a = boot(store, sensors={"toner": Noisy(0.05)})
    run(a, 2)
    assert [e["msg"] for e in a.t_events.of("config_error")] == ["secrets.json: missing"]
    assert a.t_amazon.calls == []


def test_config_error_from_real_flash_store(tmp_path, monkeypatch):
    from drsagent.store import FlashStore

    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    store = FlashStore(str(tmp_path))
    clock = FakeClock()
    events = Events()
    a = Agent.from_flash(store, clock, emit=events)
    a.step()
    a.step()
    msgs = [e["msg"] for e in events.of("config_error")]
    assert msgs == ["config.json: not valid JSON"]
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["boots"] == 1 and state["slots"] == {}


def test_clock_not_set_skips_everything_and_says_so_once():
    store = FakeStore(config())
    clock = FakeClock(t=946684800, is_set=False)
    a = boot(store, clock=clock, sensors={"toner": Noisy(0.05)})
    run(a, 5)
    assert a.t_amazon.calls == []
    ev = a.t_events.of("net_error")
    assert len(ev) == 1 and ev[0]["op"] == "clock" and ev[0]["kind"] == "TimeNotSet"
    clock._set = True
    clock.t = T0
    run(a, 2)  # its first reading, then the one that confirms it (reading.py)
    assert a.t_amazon.placed == 1


def test_report_failure_never_blocks_ordering_and_retries():
    store = FakeStore(config())
    clock = FakeClock()
    amazon = FakeAmazon(clock)
    amazon.script["device_status"] = [errors.ServerError("503")]
    a = boot(store, clock=clock, amazon=amazon, sensors={"toner": Noisy(0.05)})
    a.step()
    assert amazon.placed == 1
    assert a.t_events.of("net_error")[0]["op"] == "deviceStatus"
    assert store.state["last_device_status"] == 0
    run(a, 2)  # retried after a short backoff, then done for the day
    assert amazon.count("device_status") == 2
    assert store.state["last_device_status"] > T0
    run(a, 10)
    assert amazon.count("device_status") == 2


def test_report_auth_failure_is_auth_error():
    store = FakeStore(config())
    clock = FakeClock()
    amazon = FakeAmazon(clock)
    amazon.script["device_status"] = [errors.AuthError("invalid_grant")]
    a = boot(store, clock=clock, amazon=amazon)
    a.step()
    assert a.t_events.of("auth_error")[0]["op"] == "deviceStatus"


def test_refill_is_reported_with_the_next_daily_report():
    store = FakeStore(config())
    sensors = {"toner": Noisy(0.3)}
    a = boot(store, sensors=sensors)
    run(a, 5)  # T0 report done
    sensors["toner"].level = 0.98
    run(a, 3)  # a jump is confirmed after 2 more readings
    refills = a.t_events.of("refill")
    assert len(refills) == 1 and refills[0]["level"] > 0.95
    assert store.state["slots"]["toner"].get("rp") == 1  # persisted at once
    assert a.t_amazon.count("slot_status") == 0  # not before the daily report
    run(a, 24)
    assert a.t_amazon.count("slot_status") == 1
    assert a.t_amazon.count("device_status") == 2
    assert "rp" not in store.state["slots"]["toner"]


def test_removed_slot_is_pruned_from_state():
    state = {
        "v": 1,
        "boots": 1,
        "last_device_status": 0,
        "slots": {"gone": {"st": "idle", "eid": None, "since": T0}},
    }
    store = FakeStore(config(), state=state)
    a = boot(store)
    a.step()
    assert set(store.state["slots"]) == {"toner"}


# -- the simulator link, in a real child process ---------------------------------

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
VENV_BIN = Path(sys.executable).parent


def _flash(tmp_path):
    flash = tmp_path / "flash"
    flash.mkdir()
    cfg = config(slot_cfg("toner"))
    cfg["slots"][0]["sensor"] = {"driver": "sim", "empty": 12000, "full": 845000}
    (flash / "config.json").write_text(json.dumps(cfg))
    (flash / "secrets.json").write_text(
        json.dumps(
            {
                "lwa": {
                    "client_id": "amzn1.application-oa2-client.x",
                    "client_secret": "s3cretvalue",
                    "refresh_token": f"{REFRESH}abcdef",
                }
            }
        )
    )
    # deviceStatus already sent today, level high: no network is due
    (flash / "state.json").write_text(
        json.dumps({"v": 1, "boots": 2, "last_device_status": T0, "slots": {}})
    )
    return flash


def _run_sim(cmd, env, flash, ticks):
    import subprocess

    lines = "".join(json.dumps(t) + "\n" for t in ticks)
    lines = lines.replace('"NAN"', "NaN")  # what CPython's json.dumps writes for nan
    p = subprocess.run(
        cmd, input=lines, capture_output=True, text=True, cwd=flash, env=env, timeout=60
    )
    events = [json.loads(x) for x in p.stdout.splitlines() if x.startswith("{")]
    return p, events


TICKS = [
    {"t": T0 + HOUR, "raw": {"toner": 800000.5}},  # a first reading waits for ...
    {"t": T0 + 2 * HOUR, "raw": {"toner": 799900.0}},  # ... the next to agree
    {"t": T0 + 3 * HOUR, "raw": {"toner": "NAN"}},
    {"t": T0 + 4 * HOUR, "raw": {"toner": None}},
    {"t": T0 + 5 * HOUR, "raw": {"toner": 799100.0}},
]


def _check_sim(p, events, flash, micropython):
    assert p.returncode == 0, p.stderr
    ticks = [e for e in events if e["ev"] == "tick"]
    assert [e["t"] for e in ticks] == [t["t"] for t in TICKS]
    for e in ticks:
        assert set(e) == {"ev", "t", "mem_free", "mem_alloc"}
        if micropython:
            assert e["mem_free"] > 0 and 0 < e["mem_alloc"] < 200_000
        else:
            assert e["mem_free"] == -1
    assert events[0] == {"ev": "boot", "t": T0 + HOUR, "boots": 3}
    # only boot and ticks: garbage readings are rejected quietly (no fault after 2),
    # no order, no report
    assert {e["ev"] for e in events} == {"boot", "tick"}
    state = json.loads((flash / "state.json").read_text())
    assert state["boots"] == 3 and state["slots"]["toner"]["st"] == "idle"
    assert "s3cretvalue" not in p.stderr and "abcdef" not in p.stdout + p.stderr


@pytest.mark.micropython
def test_sim_main_under_micropython(tmp_path):
    mp = VENV_BIN / "micropython"
    if not mp.exists():
        pytest.skip("micropython binary not installed")
    flash = _flash(tmp_path)
    env = {"MICROPYPATH": str(FIRMWARE), "PATH": "/usr/bin:/bin"}
    p, events = _run_sim([str(mp), str(FIRMWARE / "sim_main.py")], env, flash, TICKS)
    _check_sim(p, events, flash, micropython=True)


def test_sim_main_under_cpython(tmp_path):
    flash = _flash(tmp_path)
    env = {"PYTHONPATH": str(FIRMWARE), "PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, "-u", str(FIRMWARE / "sim_main.py")]
    p, events = _run_sim(cmd, env, flash, TICKS)
    _check_sim(p, events, flash, micropython=False)


def test_emit_event_carries_the_kind_field_through_log():
    from drsagent import log

    emit_event = log.emit  # the agent's default event path: one path only
    got = []
    log.set_event_sink(got.append)
    try:
        emit_event("net_error", t=5, slot="s", op="replenish", kind="ServerError")
        emit_event("low", t=6, slot="s", level=0.1, reason="floor")
    finally:
        log.set_event_sink(None)
    assert got == [
        {"ev": "net_error", "t": 5, "slot": "s", "op": "replenish", "kind": "ServerError"},
        {"ev": "low", "t": 6, "slot": "s", "level": 0.1, "reason": "floor"},
    ]


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_bad_sensor_tuning_is_one_config_error_not_a_failure_every_loop(tmp_path, runtime):
    flash = _flash(tmp_path)
    cfg = json.loads((flash / "config.json").read_text())
    cfg["slots"][0]["sensor"]["spike"] = "high"  # feed() would raise TypeError each loop
    (flash / "config.json").write_text(json.dumps(cfg))
    if runtime == "micropython":
        mp = VENV_BIN / "micropython"
        if not mp.exists():
            pytest.skip("micropython binary not installed")
        cmd, env = [str(mp), str(FIRMWARE / "sim_main.py")], {"MICROPYPATH": str(FIRMWARE)}
    else:
        cmd = [sys.executable, "-u", str(FIRMWARE / "sim_main.py")]
        env = {"PYTHONPATH": str(FIRMWARE)}
    env["PATH"] = "/usr/bin:/bin"
    p, events = _run_sim(cmd, env, flash, TICKS)
    assert p.returncode == 0, p.stderr
    assert [e["msg"] for e in events if e["ev"] == "config_error"] == [
        "config.json: slots[0].sensor.spike: expected a number > 0, got 'high'"
    ]
    assert "TypeError" not in p.stderr and "slot toner" not in p.stderr


# -- what the policy learns, through the loop ---------------------------------------


def learned_slot(**fields):
    """A slot that has learned: 10 days of 25 %/day and three 6-day deliveries."""
    d = {"st": "idle", "eid": None, "since": T0, "l": 0.9, "uh": [2500] * 10}
    d.update({"lh": [144, 144, 144], "ud": [T0 // DAY, 9000, 0, 0]})
    d.update(fields)
    return {"v": 1, "boots": 1, "last_device_status": 0, "slots": {"toner": d}}


def test_what_was_learned_survives_a_reboot():
    store = FakeStore(config(), state=learned_slot())
    a = boot(store, sensors={"toner": Noisy(0.9)})
    a.step()
    slot = store.state["slots"]["toner"]
    assert slot["uh"][:10] == [2500] * 10 and slot["lh"] == [144, 144, 144]


@pytest.mark.parametrize(
    "broken",
    [{"uh": "x"}, {"uh": [1, None]}, {"lh": [1.5]}, {"lp": "yesterday"}, {"ud": [1, 2]}],
)
def test_broken_learned_values_start_learning_over_and_the_slot_still_orders(broken):
    store = FakeStore(config(), state=learned_slot(**dict({"l": 0.05}, **broken)))
    a = boot(store, sensors={"toner": Noisy(0.05)})
    a.step()
    slot = store.state["slots"]["toner"]
    assert "lh" not in slot and slot.get("uh") in (None, [])
    assert a.t_amazon.placed == 1  # at the floor it orders as always
    assert a.t_events.of("low")[0]["reason"] == "floor"


def test_a_slot_that_cannot_be_kept_stocked_is_reported_once():
    store = FakeStore(config(), state=learned_slot(st="delivered", eid="e1", l=0.05))
    sensors = {"toner": Noisy(0.05)}
    a = boot(store, sensors=sensors)
    a.t_clock.t = T0 + HOUR
    a.step()
    sensors["toner"].level = 1.0  # the delivery goes in
    run(a, 4)
    reports = a.t_events.of("cannot_stock")
    assert len(reports) == 1
    assert reports[0]["container_days"] == 4.0 and reports[0]["lead_days"] == 6.0
    assert "bigger container" in reports[0]["fix"]
    assert store.state["slots"]["toner"]["cs"] == 1
    assert a.t_amazon.placed == 1  # and it orders again at once: the best it can do


def _deep_sleep_passes(store, clock, amazon, events, level, hours, change_at=None):
    """Deep sleep: each wake is a boot, so each pass is a new agent from the flash."""
    for h in range(hours):
        if change_at and h in change_at:
            level[0] = change_at[h]
        agent = Agent.from_flash(
            store, clock, lambda c: lambda: level[0] * 1000 + clock.t % 3, lambda *a: amazon, events
        )
        agent.step()
        clock.advance(HOUR)


def test_deep_sleep_a_fresh_device_takes_its_first_reading_and_orders():
    """Each deep-sleep wake is a boot: the reading filter lives in state.json, so the
    first reading held at one wake is confirmed at the next (else it waits forever)."""
    clock = FakeClock()
    amazon = FakeAmazon(clock)
    store = FakeStore(config(board={"deep_sleep": True}))
    _deep_sleep_passes(store, clock, amazon, Events(), [0.05], 3)
    assert amazon.placed == 1


def test_deep_sleep_a_refill_under_the_spike_size_is_seen():
    """A refill under sensor.spike waits for the next reading to be one too: in deep
    sleep that is the next wake's (else it is held at every wake, and the slot orders
    again once the delivered order's wait runs out)."""
    clock = FakeClock()
    amazon = FakeAmazon(clock, deliver_after=2 * DAY)
    events = Events()
    slot = slot_cfg(floor=0.75, order_ceiling=0.8, rearm=0.85)  # a top-up slot
    store = FakeStore(config(slot, board={"deep_sleep": True}))
    _deep_sleep_passes(store, clock, amazon, events, [0.70], 14 * 24, change_at={96: 0.98})
    assert amazon.placed == 1 and events.of("refill")


def test_a_refill_held_for_confirmation_is_not_a_reading_to_order_on():
    """The refill is put in at the very pass where the delivered order's wait runs out:
    the held reading (not confirmed yet) must not let the slot decide on the old low
    level and order again; the next reading confirms the refill."""
    slot = slot_cfg(floor=0.75, order_ceiling=0.8, rearm=0.85)
    for refill_h in range(240, 257):  # the wait runs out at hour 256
        clock = FakeClock()
        amazon = FakeAmazon(clock, deliver_after=2 * DAY)
        level = [0.70]
        a = boot(FakeStore(config(slot)), clock, {"toner": _Level(level, clock)}, amazon, False)
        for h in range(14 * 24):
            if h == refill_h:
                level[0] = 0.98
            a.step()
            clock.advance(HOUR)
        assert amazon.placed == 1, refill_h


class _Level:
    """A sensor at level[0], with a little noise (a constant value reads as stuck)."""

    def __init__(self, level, clock):
        self.level = level
        self.clock = clock

    def read(self):
        return self.level[0] * 1000 + self.clock.t // HOUR % 3


def test_deep_sleep_an_empty_to_full_refill_is_seen_and_the_slot_orders_again_later():
    """A refill is a jump bigger than sensor.spike, confirmed over three readings: in
    deep sleep those come in three wakes, so what the filter holds must outlive them."""
    clock = FakeClock()
    amazon = FakeAmazon(clock, deliver_after=2 * DAY)
    events = Events()
    store = FakeStore(config(slot_cfg(daily_use=0.2), board={"deep_sleep": True}))
    level = [0.05]
    _deep_sleep_passes(store, clock, amazon, events, level, 3 * 24, change_at={60: 0.98})
    assert amazon.placed == 1 and events.of("refill"), events.kinds()
    assert store.state["slots"]["toner"]["l"] > 0.9
