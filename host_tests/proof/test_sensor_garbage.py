"""Sensor garbage end to end (issue 12, section 5), on the real firmware over real
HTTP against the emulator (host_tests/proof/sensor_garbage.py): never an order on
garbage, never a duplicate, one order when genuinely low, re-armed after a refill
that happens during spikes."""

from __future__ import annotations

from host_tests.proof.rig import HOUR
from host_tests.proof.sensor_garbage import (
    GARBAGE,
    ORDER_BOUND,
    GarbageSensor,
    garbage_run,
    slot_config,
)

DAY_H = 24


def test_two_order_cycles_under_every_kind_of_garbage(make_rig):
    rig = make_rig(level=1.0, daily_use=0.12, slot_config=slot_config(), seed=3)
    run = garbage_run(rig, episodes=2, max_days=30)
    assert run.problems(episodes=2) == []
    assert run.modes_seen >= set(GARBAGE), run.modes_seen
    # Each disconnect and each stuck stretch was reported, and junk was rejected.
    assert {"none", "stuck"} <= run.fault_reasons, run.fault_reasons
    assert run.fault_reasons & {"nan", "type", "range"}, run.fault_reasons


def test_stuck_mid_level_never_orders_then_orders_once_when_it_reads_again(make_rig):
    """Stuck at 0.7 while the container runs low: the firmware cannot know, says the
    sensor is stuck and orders nothing; once readings move again it orders, once."""
    rig = make_rig(level=0.7, daily_use=0.12, slot_config=slot_config())
    sensor = GarbageSensor(rig.world, rig.rng)
    rig.raw = sensor.read
    sensor.set_mode("stuck")
    rig.run(4 * DAY_H)
    assert rig.world.level < 0.4, "genuinely low by now"
    assert rig.orders() == []
    assert [e["reason"] for e in rig.events_named("sensor_fault")] == ["stuck"]
    sensor.set_mode("noise")
    rig.run(6)
    orders = rig.orders()
    assert len(orders) == 1
    assert rig.events_named("sensor_ok")
    rig.run(3 * DAY_H)
    assert rig.refills and rig.duplicates() == 0 and len(rig.orders()) == 1


def test_stuck_at_empty_is_an_empty_container_and_orders_once(make_rig):
    """A load cell at empty reads the same count hour after hour: that is an empty
    container, not a stuck sensor. One order; after the refill, re-armed."""
    rig = make_rig(level=0.0, daily_use=0.12, slot_config=slot_config(), installed=False)
    sensor = GarbageSensor(rig.world, rig.rng)
    rig.raw = sensor.read
    sensor.set_mode("stuck")
    rig.run(2)  # a fresh device's first reading waits for the next to agree
    assert len(rig.orders()) == 1
    while not rig.refills and rig.now < rig.day0 + 5 * DAY_H * HOUR:
        rig.run(1)
    assert rig.refills, "delivered and put in"
    sensor.set_mode("noise")
    rig.run(DAY_H)
    assert rig.slot_state()["st"] == "idle", rig.slot_state()
    assert "stuck" not in [e["reason"] for e in rig.events_named("sensor_fault")]
    assert len(rig.orders()) == 1 and rig.duplicates() == 0
    assert rig.world.level > ORDER_BOUND


def test_a_fresh_device_does_not_order_on_a_single_glitch_at_empty(make_rig):
    rig = make_rig(level=1.0, daily_use=0.12, slot_config=slot_config(), installed=False)
    sensor = GarbageSensor(rig.world, rig.rng)
    rig.raw = sensor.read
    sensor.set_mode("none")  # not connected yet when it boots
    rig.run(2)
    sensor.set_mode("stuck")
    sensor.stuck_raw = rig.world.empty_raw  # one reading at empty ...
    rig.run(1)
    sensor.set_mode("noise")  # ... then the container reads full, as it is
    rig.run(DAY_H)
    assert rig.orders() == []


def test_one_glitch_while_a_parcel_waits_to_be_put_in_orders_nothing(make_rig):
    """Delivered, not yet put in: one reading across rearm (inside the reading filter's
    spike size, so the filter lets it through) must not re-arm the slot, or it orders
    again hours before the household puts the parcel in."""
    rearm = 0.3
    config = slot_config() | {"rearm": rearm}
    rig = make_rig(level=0.09, daily_use=0.02, slot_config=config, refill_delay_h=(30.0, 40.0))
    sensor = GarbageSensor(rig.world, rig.rng)
    rig.raw = sensor.read
    rig.run(3)
    assert len(rig.orders()) == 1
    while not rig.orders()[0].get("delivered_at"):
        rig.run(1)
    rig.run(20)  # the device has seen the delivery
    assert rig.slot_state()["st"] == "delivered", rig.slot_state()
    assert not rig.refills
    sensor.set_mode("stuck")
    world = rig.world
    sensor.stuck_raw = world.empty_raw + (rearm + 0.05) * (world.full_raw - world.empty_raw)
    rig.run(1)
    sensor.set_mode("noise")
    while not rig.refills:
        rig.run(1)
    rig.run(DAY_H)
    assert len(rig.orders()) == 1 and rig.duplicates() == 0, rig.orders()
    assert not rig.events_named("refill")[:-1], "one refill: the parcel put in"
