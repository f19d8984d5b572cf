"""End-to-end: bad input loses nothing and never leads to an order it should not."""

from __future__ import annotations

import json

from host_tests.e2e.helpers import events_named, run_until, state_of
from host_tests.fake_tokens import ACCESS

DAY_TICKS = 24


def _replenish_calls(sim) -> list[dict]:
    return [r for r in sim.requests() if r["route"] == "replenish"]


def test_malformed_config_says_what_is_wrong_and_orders_nothing(make_sim):
    sim = make_sim(levels=[0.05], daily_use=[0.01])
    good = (sim.flash / "config.json").read_text()
    config = json.loads(good)
    config["slots"][0]["lead_time_days"] = "three"
    sim.device.kill()
    (sim.flash / "config.json").write_text(json.dumps(config))
    sim.device.start()
    for _ in range(3):
        sim.step()
    errors = events_named(sim, "config_error")
    assert errors, "the agent starts and says what is wrong"
    assert "config.json" in errors[0]["msg"] and "lead_time_days" in errors[0]["msg"]
    assert sim.orders() == [] and _replenish_calls(sim) == []
    assert not sim.timeline.crashes

    # Fixed on the flash: the agent picks it up without a reboot and orders.
    (sim.flash / "config.json").write_text(good)
    run_until(sim, lambda: len(sim.orders()) == 1, max_ticks=3)


def test_truncated_config_and_missing_secrets_are_reported(make_sim):
    sim = make_sim(levels=[0.05], daily_use=[0.01])
    sim.device.kill()
    text = (sim.flash / "config.json").read_text()
    (sim.flash / "config.json").write_text(text[: len(text) // 2])
    sim.device.start()
    sim.step()
    assert "config.json" in events_named(sim, "config_error")[0]["msg"]

    sim.device.kill()
    (sim.flash / "config.json").write_text(text)
    (sim.flash / "secrets.json").unlink()
    sim.device.start()
    sim.step()
    assert "secrets.json" in events_named(sim, "config_error")[-1]["msg"]
    assert sim.orders() == []
    assert not sim.timeline.crashes


def test_corrupt_state_falls_back_to_last_good_copy_without_reordering(make_sim):
    sim = make_sim(levels=[0.05], daily_use=[0.0])
    sim.step()
    assert len(sim.orders()) == 1
    sim.device.kill()
    (sim.flash / "state.json").write_text('{"v": 1, "slots": {"slot-1": {"st": "ord')
    sim.device.start()
    for _ in range(DAY_TICKS):
        sim.step()
    assert len(sim.orders()) == 1, "the backup still holds the order latch"
    assert state_of(sim)["slots"]["slot-1"]["eid"] == sim.orders()[0]["event_instance_id"]


def test_garbage_sensor_never_orders_and_says_so(make_sim):
    for kind in ("nan", "none", "stuck"):
        sim = make_sim(levels=[0.6], daily_use=[0.01])
        sim.step()
        sim.worlds[0].garbage = kind
        sim.worlds[0].level = 0.02  # truly low, but the sensor can no longer tell
        for _ in range(3 * DAY_TICKS):
            sim.step()
        assert sim.orders() == [], kind
        assert events_named(sim, "sensor_fault"), kind


def test_malformed_replenish_answer_is_handled_without_a_second_order(make_sim, emulator):
    _, control = emulator
    sim = make_sim(levels=[0.05], daily_use=[0.01])
    control.fault("replenish", "malformed", after=True)
    run_until(sim, lambda: len(_replenish_calls(sim)) >= 2, max_ticks=DAY_TICKS)
    for _ in range(DAY_TICKS):
        sim.step()
    assert len(sim.orders()) == 1
    assert state_of(sim)["slots"]["slot-1"]["eid"] == sim.orders()[0]["event_instance_id"]
    assert not sim.timeline.crashes


def test_dropped_connections_while_tracking_are_retried(make_sim, emulator):
    _, control = emulator
    sim = make_sim(levels=[0.05], daily_use=[0.01])
    sim.step()
    control.fault("getOrderInfo", "drop", count=2)
    run_until(sim, lambda: bool(events_named(sim, "delivered")), max_ticks=4 * DAY_TICKS)
    statuses = [r["status"] for r in sim.requests() if r["route"] == "getOrderInfo"]
    assert len(statuses) >= 3
    assert len(sim.orders()) == 1


def test_no_secret_reaches_the_log_or_the_events(make_sim):
    sim = make_sim(levels=[0.05], daily_use=[0.02])
    for _ in range(3 * DAY_TICKS):
        sim.step()
    secrets = json.loads((sim.flash / "secrets.json").read_text())["lwa"]
    log = (sim.flash.parent / f"{sim.flash.name}.log").read_text()
    events = json.dumps(sim.timeline.events)
    assert "lwa" in log, "the log does talk about tokens, just never shows one"
    for text in (log, events):
        assert secrets["refresh_token"] not in text
        assert secrets["client_secret"] not in text
        assert ACCESS not in text
