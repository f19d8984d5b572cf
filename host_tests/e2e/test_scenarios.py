"""End-to-end: the real firmware (CPython and MicroPython) against the real emulator.

Every scenario runs on both runtimes (the ``runtime`` fixture) over real HTTP,
with time driven by the virtual clock, one simulated hour per tick.
"""

from __future__ import annotations

from drsctl.sim.harness import DEFAULT_START as START
from drsctl.sim.report import duplicate_orders

from host_tests.e2e.helpers import events_named, run_until, state_of

DAY_TICKS = 24


def test_first_order_is_delivered_and_refill_rearms(make_sim):
    sim = make_sim(levels=[0.08], daily_use=[0.03])
    sim.step()
    orders = sim.orders()
    assert len(orders) == 1, "a slot below its floor orders on the first pass"
    eid = orders[0]["event_instance_id"]
    assert events_named(sim, "order_placed")[0]["eid"] == eid
    assert state_of(sim)["slots"]["slot-1"]["st"] == "ordered"

    run_until(sim, lambda: bool(events_named(sim, "refill")), max_ticks=4 * DAY_TICKS)
    assert sim.orders()[0]["delivered_at"], "the emulator delivered the order"
    assert events_named(sim, "delivered"), "the agent saw the order close"
    assert state_of(sim)["slots"]["slot-1"]["st"] == "idle"
    assert len(sim.orders()) == 1
    assert sum(len(w.stockout_days) for w in sim.worlds) == 0


def test_second_cycle_orders_again_only_after_refill(make_sim):
    sim = make_sim(levels=[0.9], daily_use=[0.12], lead_time_days=2.0)
    for _ in range(20 * DAY_TICKS):
        sim.step()
    orders = sim.orders()
    assert len(orders) >= 3, "fast use over 20 days needs several refills"
    assert duplicate_orders(orders, sim.timeline.refills) == 0
    assert sum(len(w.stockout_days) for w in sim.worlds) == 0


def test_order_in_progress_is_adopted_not_repeated(make_sim, emulator):
    url, control = emulator
    sim = make_sim(levels=[0.05], daily_use=[0.02])
    # An order for this slot is already out (placed before the flash was wiped).
    existing = _replenish_as_device(sim, url)
    assert existing["detailCode"] == "STANDARD_ORDER_PLACED"

    sim.step()
    assert len(sim.orders()) == 1
    adopted = events_named(sim, "order_adopted")
    assert adopted and adopted[0]["eid"] == existing["eventInstanceId"]
    assert state_of(sim)["slots"]["slot-1"]["eid"] == existing["eventInstanceId"]
    run_until(sim, lambda: bool(events_named(sim, "delivered")), max_ticks=4 * DAY_TICKS)
    assert len(sim.orders()) == 1


def test_access_token_expiring_mid_run_is_refreshed_once(make_sim, emulator):
    _, control = emulator
    # Ten-minute ticks from 08:00 (the device took its first reading then, and sent
    # deviceStatus with a fresh token): slot-1 orders on the first tick; slot-2, used
    # fast, reaches its floor within the token's hour.
    sim = make_sim(levels=[0.05, 0.12], daily_use=[0.02, 0.8], tick_s=600, start=START + 8 * 3600)
    sim.step()
    assert len(sim.orders()) == 1
    # Amazon drops the token early (revoked, rotated): the next call must recover.
    control.expire_tokens(sim.device_id)
    before = len(sim.requests())
    run_until(sim, lambda: len(sim.orders()) == 2, max_ticks=5)
    calls = [(r["route"], r["status"]) for r in sim.requests()[before:]]
    assert calls[:3] == [("replenish", 400), ("token", 200), ("replenish", 200)]
    assert [c for c in calls if c[1] == 400] == [("replenish", 400)], "refreshed once, no loop"
    assert not events_named(sim, "auth_error")
    assert not sim.timeline.crashes


def test_burst_of_500s_backs_off_then_orders_once(make_sim, emulator):
    _, control = emulator
    sim = make_sim(levels=[0.05], daily_use=[0.01])
    control.fault("replenish", "status", count=3, status=500)
    run_until(sim, lambda: bool(sim.orders()), max_ticks=3 * DAY_TICKS)
    replenish_calls = [r for r in sim.requests() if r["path"].startswith("/replenish/")]
    assert [r["status"] for r in replenish_calls] == [500, 500, 500, 200]
    gaps = [b["t"] - a["t"] for a, b in zip(replenish_calls, replenish_calls[1:], strict=False)]
    assert gaps == sorted(gaps), "retries back off, never a storm"
    for _ in range(DAY_TICKS):
        sim.step()
    assert len(sim.orders()) == 1


def test_customer_cancel_puts_slot_on_cooldown(make_sim, emulator):
    _, control = emulator
    sim = make_sim(levels=[0.05], daily_use=[0.0])
    sim.step()
    first = sim.orders()[0]
    control.cancel_order(first["event_instance_id"])
    canceled_at = sim.now
    run_until(sim, lambda: bool(events_named(sim, "canceled")), max_ticks=2 * DAY_TICKS)
    assert state_of(sim)["slots"]["slot-1"]["st"] == "cooldown"
    # Still empty, but the customer said no: nothing for the cool-down (2 days by default).
    for _ in range(DAY_TICKS):
        sim.step()
    assert len(sim.orders()) == 1
    run_until(sim, lambda: len(sim.orders()) == 2, max_ticks=3 * DAY_TICKS)
    second = sim.orders()[-1]
    assert second["created_at"] - canceled_at >= 2 * 86400 - 3600
    assert duplicate_orders(sim.orders(), sim.timeline.refills) == 0


def test_power_cut_right_after_replenish_sent_never_orders_twice(make_sim, emulator):
    _, control = emulator
    sim = make_sim(levels=[0.05], daily_use=[0.01])
    # Amazon takes the order, then the answer never comes back...
    control.fault("replenish", "hang", after=True)
    sim.advance_world(3600)
    sim.device.send_tick(sim.now, sim.readings())
    _wait_until_held(control)
    # ...and the power goes while the device waits for it.
    sim.device.kill()
    control.release_hangs()
    assert len(sim.orders()) == 1
    assert state_of(sim)["slots"]["slot-1"]["st"] == "ordering", "latch persisted before send"

    sim.device.start()
    sim.step()
    orders = sim.orders()
    assert len(orders) == 1, "no second order for the same empty slot"
    assert events_named(sim, "order_adopted")[0]["eid"] == orders[0]["event_instance_id"]
    assert state_of(sim)["slots"]["slot-1"]["eid"] == orders[0]["event_instance_id"]
    run_until(sim, lambda: bool(events_named(sim, "refill")), max_ticks=4 * DAY_TICKS)
    assert len(sim.orders()) == 1


def _wait_until_held(control) -> None:
    """Poll (bounded) until the emulator holds the device's call: it has arrived."""
    import time

    deadline = time.monotonic() + 30
    while control.holding() == 0:
        assert time.monotonic() < deadline, "the device never called"
        time.sleep(0.01)


def _replenish_as_device(sim, url: str) -> dict:
    """Place an order for the device's slot with its own credentials."""
    import json

    import httpx

    secrets = json.loads((sim.flash / "secrets.json").read_text())["lwa"]
    token = httpx.post(
        url + "/auth/o2/token",
        data={"grant_type": "refresh_token", **secrets},
    ).json()["access_token"]
    response = httpx.post(
        url + "/replenish/slot-1",
        headers={
            "Authorization": "Bearer " + token,
            "x-amzn-type-version": "com.amazon.dash.replenishment.DrsReplenishInput@1.0",
            "x-amzn-accept-type": "com.amazon.dash.replenishment.DrsReplenishResult@1.0",
        },
    )
    assert response.status_code == 200
    return response.json()
