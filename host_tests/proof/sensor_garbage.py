"""Sensor garbage end to end (issue 12, section 5): the real firmware (the proof rig:
CPython agent, real HTTP, the emulator) in a household whose sensor misbehaves.

:class:`GarbageSensor` stands in for the slot's driver. Its mode says what it reports:
the true level with heavy noise, junk values (NaN, infinities, strings, booleans,
absurd counts), nothing (a disconnected driver returns None), an ``OSError`` (a
driver that raises), a stuck value (the raw count it read when it got stuck) or
spikes (bursts of one or two readings at an extreme between true readings).

:func:`garbage_run` drives whole order cycles: while the container is well above
anything the policy could order at, the sensor goes through every kind of garbage
in turn; once it is genuinely low it reads the true level with noise; from the
order to half a day after the household put the delivery in, it spikes, so the
refill happens during spikes. The first few hours read true: a device knows the
level it was installed at (a fresh device trusts its first reading alone, see
test_sensor_garbage.py). What a run must show: no order while the true level
was high (an order on garbage), no duplicate, one order per genuine episode, and
the slot re-armed after each refill.
"""

from __future__ import annotations

import errno
import math
import random
from dataclasses import dataclass, field
from typing import Any

from drsctl.sim.consumption import SlotWorld

from host_tests.proof.rig import HOUR, DeviceRig

GARBAGE = ("junk", "none", "raise", "spike", "stuck", "noise")
BLOCK_H = 10  # hours each kind of garbage lasts while the container is high
HIGH = 0.65  # garbage only above this true level ...
ORDER_BOUND = 0.6  # ... and no order may be placed above this one (the slot's rearm)
SPIKE_AFTER_REFILL_H = 12
REARM_WITHIN_H = 48  # after a refill (the order's delivery is polled about daily)
INSTALL_H = 3  # true readings first: a freshly installed device knows its level
STUCK_READINGS = 6  # the slot's sensor.stuck_readings in these runs (default 48)


def slot_config() -> dict[str, Any]:
    """The slot's sensor settings for a garbage run (the rig's world calibration):
    stuck detection within a block."""
    world = SlotWorld("calibration", daily_use=0.0)
    return {
        "sensor": {
            "driver": "sim",
            "empty": world.empty_raw,
            "full": world.full_raw,
            "stuck_readings": STUCK_READINGS,
        }
    }


class GarbageSensor:
    """A slot's sensor driver that reports garbage according to :attr:`mode`."""

    def __init__(self, world: SlotWorld, rng: random.Random) -> None:
        self.world = world
        self.rng = rng
        self.mode = "noise"
        self.stuck_raw: float | None = None
        self.burst = 0  # spike readings still to come in this burst
        self.spiked = False  # the last reading was a spike: the next one is true
        self.modes_seen: set[str] = set()

    def _counts(self, fraction: float) -> float:
        w = self.world
        return round(w.empty_raw + fraction * (w.full_raw - w.empty_raw), 1)

    def true_raw(self) -> float:
        """The true level with heavy noise (2 % of full scale)."""
        return self._counts(self.world.level + self.rng.gauss(0.0, 0.02))

    def set_mode(self, mode: str) -> None:
        if mode == "stuck" and self.mode != "stuck":
            self.stuck_raw = self.true_raw()  # stuck wherever it was
        self.mode = mode

    def read(self) -> Any:
        """The driver's reading now (the agent calls it once per loop pass)."""
        self.modes_seen.add(self.mode)
        mode = self.mode
        if mode == "none":
            return None
        if mode == "raise":
            raise OSError(errno.EIO, "sensor bus")
        if mode == "stuck":
            return self.stuck_raw
        if mode == "junk":
            junk = [math.nan, math.inf, -math.inf, "812345", True, -1e30, 1e30, [1], {}]
            return self.rng.choice(junk)
        if mode == "spike":
            return self._spike()
        return self.true_raw()

    def _spike(self) -> float:
        """Bursts of at most two extreme readings, each followed by a true one: fewer
        than the three agreeing readings the firmware wants before it believes a jump."""
        if self.burst == 0 and not self.spiked and self.rng.random() < 0.3:
            self.burst = self.rng.choice((1, 2))
            self.extreme = self.rng.choice((-0.04, 0.0, 1.0, 1.04))
        if self.burst:
            self.burst -= 1
            self.spiked = self.burst == 0
            return self._counts(self.extreme)
        self.spiked = False
        return self.true_raw()


@dataclass
class GarbageRun:
    """What one garbage run did."""

    orders: int = 0
    duplicates: int = 0
    refills: int = 0
    hours: int = 0
    stockout_days: int = 0
    orders_on_garbage: list[tuple[int, float]] = field(default_factory=list)  # (t, level)
    not_rearmed: list[int] = field(default_factory=list)  # refill times
    fault_reasons: set[str] = field(default_factory=set)
    modes_seen: set[str] = field(default_factory=set)

    def problems(self, episodes: int) -> list[str]:
        """Every broken promise, in words (empty: the run proves what it should)."""
        out = []
        if self.orders_on_garbage:
            out.append(f"orders while the true level was high: {self.orders_on_garbage}")
        if self.duplicates:
            out.append(f"{self.duplicates} duplicate orders")
        if self.refills < episodes or self.orders != self.refills:
            out.append(f"{self.orders} orders for {self.refills} refills ({episodes} wanted)")
        if self.not_rearmed:
            out.append(f"not re-armed after the refills at {self.not_rearmed}")
        return out


def garbage_run(rig: DeviceRig, episodes: int, max_days: float = 60) -> GarbageRun:
    """Run ``rig`` under sensor garbage until ``episodes`` orders were delivered and put
    in (plus half a day of spikes after the last refill) or ``max_days`` passed."""
    sensor = GarbageSensor(rig.world, rig.rng)
    rig.raw = sensor.read  # type: ignore[method-assign]  # the driver the agent boots with
    level_at: dict[int, float] = {}
    block = 0
    high_since = rig.now + INSTALL_H * HOUR
    run = GarbageRun()
    rearm_due: int | None = None  # the refill the slot has not re-armed after yet
    for _ in range(int(max_days * 24)):
        refills = len(rig.refills)
        rig.advance()
        level_at[rig.now] = rig.world.level
        if len(rig.refills) > refills:
            rearm_due = rig.refills[-1][0]
        last_refill = rig.refills[-1][0] if rig.refills else None
        recently_refilled = last_refill is not None and rig.now - last_refill < (
            SPIKE_AFTER_REFILL_H * HOUR
        )
        ordered = len(rig.orders()) > len(rig.refills)
        if ordered or recently_refilled:
            sensor.set_mode("spike")  # the refill happens during spikes
            high_since = rig.now
        elif rig.world.level > HIGH and rig.now >= high_since:
            step = (rig.now - high_since) // (BLOCK_H * HOUR)
            sensor.set_mode(GARBAGE[(block + step) % len(GARBAGE)])
        else:
            if sensor.mode != "noise":
                block += 1  # the next high phase starts with the next kind of garbage
            sensor.set_mode("noise")
        rig.device_pass()
        run.hours += 1
        if rearm_due is not None:
            # Re-armed once the delivered order is closed, and before the slot is
            # genuinely low again (its next order needs it).
            if rig.slot_state()["st"] == "idle":
                rearm_due = None
            elif rig.world.level <= ORDER_BOUND or rig.now - rearm_due > REARM_WITHIN_H * HOUR:
                run.not_rearmed.append(rearm_due)
                rearm_due = None
        if len(rig.refills) >= episodes and rearm_due is None and not recently_refilled:
            break
    orders = rig.orders()
    run.orders = len(orders)
    run.duplicates = rig.duplicates()
    run.refills = len(rig.refills)
    run.stockout_days = len(rig.world.stockout_days)
    for order in orders:
        t = int(order["created_at"])
        level = level_at.get(t - t % HOUR, 0.0)
        if level > ORDER_BOUND:
            run.orders_on_garbage.append((t, round(level, 3)))
    run.fault_reasons = {e["reason"] for e in rig.events_named("sensor_fault")}
    run.modes_seen = sensor.modes_seen
    return run
