"""Property-based tests (issue 12, section 4): random consumption, refills, cancels,
reboots, power cuts and fault sequences against the agent's policy and order
machine (the real firmware on CPython, its flash the power-cut fake, Amazon the
in-memory model of amazon_model.py). Invariants: never two orders for one episode,
the state always loads, and once the faults stop the slot is served again."""

from __future__ import annotations

import json
import random

from drsctl.sim.consumption import DAY, SlotWorld
from drsctl.sim.report import duplicate_orders
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host_tests.proof.amazon_model import FAULTS, HOUR, AmazonModel
from host_tests.proof.power import FLASH_ROOT, Flash, PowerCut, PowerSwitch
from host_tests.proof.rig import SLOT, no_gc_collect

START = 1893456000 + 8 * HOUR
TAIL_DAYS = 12

step = st.tuples(
    st.integers(1, 40),  # hours this step lasts (off that long after a cut)
    st.sampled_from((None, None, None) + FAULTS),  # the fault on every call meanwhile
    st.sampled_from(("none", "none", "reboot", "cut", "cut-after-replenish", "cancel")),
    st.integers(1, 12),  # the I/O point of a cut (flash writes, requests)
)


class ModelDevice:
    """The firmware on a fake flash with the Amazon model below its DRS calls."""

    def __init__(self, daily_use: float, level: float, refill_h: float, seed: int) -> None:
        self.rng = random.Random(seed)
        self.model = AmazonModel(delivery_s=DAY, now=START)
        self.off_until = 0
        self.off_s = HOUR
        self.world = SlotWorld(SLOT, daily_use=daily_use, noise=0.0, sensor_noise=0.0)
        self.world.level = level
        self.refill_h = refill_h
        self.refills: list[tuple[int, str]] = []
        self.switch = PowerSwitch()
        self.flash = Flash(self.switch)
        self.model.switch = self.switch
        config = {
            "device": {"serial": "PROP-1"},
            "endpoints": {"drs": "http://127.0.0.1:9", "lwa": "http://127.0.0.1:9/t"},
            "allow_plain_http": True,
            "jitter_seed": seed,  # a replayable jitter
            "slots": [
                {
                    "id": SLOT,
                    "sensor": {"driver": "sim", "empty": 0, "full": 1000},
                    "lead_time_days": 1,
                }
            ],
        }
        secrets = {"lwa": {"client_id": "c", "client_secret": "s", "refresh_token": "r"}}
        self.flash.files["config.json"] = json.dumps(config).encode()
        self.flash.files["secrets.json"] = json.dumps(secrets).encode()
        self.agent = None
        self.seen: set[str] = set()
        # On an hour before the test starts: its first reading, which the firmware holds
        # until the next one agrees (drsagent/reading.py).
        self.hour()

    def hour(self) -> None:
        from drsagent.agent import Agent
        from drsagent.hal.sim import SimClock
        from drsagent.store import FlashStore

        t = self.model.now
        self.world.consume(t, t + HOUR, self.rng, START - START % DAY)
        t = self.model.now = t + HOUR
        for o in self.model.orders:
            if o.canceled_at is None and o.delivered_at <= t and o.eid not in self.seen:
                self.seen.add(o.eid)
                self.world.refill_at = o.delivered_at + int(self.refill_h * HOUR)
        if self.world.maybe_refill(t):
            self.refills.append((t, SLOT))
        if t < self.off_until:
            return  # the power is off
        with self.flash.mounted(), no_gc_collect():
            try:
                if self.agent is None:
                    self.switch.power_on()
                    for name in ("state.json", "state.bak"):
                        if name in self.flash.files:
                            json.loads(self.flash.files[name])
                    self.clock = SimClock(t)
                    self.agent = Agent.from_flash(
                        FlashStore(FLASH_ROOT),
                        self.clock,
                        make_sensor=lambda c: self.reading,
                        make_drs=lambda *args: self.model,
                        emit=lambda ev, **kw: None,
                    )
                self.clock.set(t)
                self.agent.step()
            except PowerCut:
                self.agent = None
                self.off_until = t + self.off_s

    def reading(self) -> float:
        """The sensor: the level with a little noise (a constant value reads as stuck)."""
        return self.world.level * 1000 + self.rng.uniform(-0.5, 0.5)

    def duplicates(self) -> int:
        return duplicate_orders(self.model.order_json(), self.refills)


@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    daily_use=st.floats(0.03, 0.2),
    level=st.floats(0.05, 1.0),
    refill_h=st.floats(0.0, 8.0),  # the household puts a delivery in within 8 h
    steps=st.lists(step, max_size=20),
    seed=st.integers(1, 1000),
)
def test_no_duplicate_and_served_again_after_faults(daily_use, level, refill_h, steps, seed):
    device = ModelDevice(daily_use, level, refill_h, seed)
    for hours, fault, event, point in steps:
        device.model.fault = fault
        if event == "reboot":
            device.agent = None
        elif event.startswith("cut"):
            # at an I/O point, or right after Amazon acted on a replenish (answer lost)
            label = "answer replenish" if event == "cut-after-replenish" else None
            device.switch.arm(None if label else point, label)
            device.off_s = hours * HOUR
        elif event == "cancel":
            device.model.cancel_open(device.model.now)
        for _ in range(hours):
            device.hour()
        assert device.duplicates() == 0, device.model.order_json()
    device.model.fault = None
    device.switch.arm(None)
    tail_start = device.model.now
    for _ in range(TAIL_DAYS * 24):
        device.hour()
    assert device.duplicates() == 0, device.model.order_json()
    # Served again: in the last days of the fault-free tail the slot is never empty.
    last_days = {(t - START) // DAY for t in range(tail_start + 9 * DAY, device.model.now, HOUR)}
    stockout = {d for d in device.world.stockout_days if d in last_days}
    assert not stockout, (device.model.order_json(), device.refills)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    off_h=st.integers(1, 60),
    refill_h=st.floats(0.0, 8.0),
    fault_after=st.sampled_from((None, "500", "400", "lost", "before")),
    seed=st.integers(1, 1000),
)
def test_lost_replenish_answer_then_off_any_time_orders_once(off_h, refill_h, fault_after, seed):
    """The device dies right after Amazon acted on its replenish; it is off for off_h
    hours, and then every call fails one way for a while: still one order, and the
    slot is served again."""
    device = ModelDevice(0.1, 0.08, refill_h, seed)
    device.switch.arm(label="answer replenish")
    device.off_s = off_h * HOUR
    device.hour()
    assert device.model.orders and device.agent is None, "cut after Amazon ordered"
    device.model.fault = fault_after
    for _ in range(off_h + 12):
        device.hour()
    device.model.fault = None
    for _ in range(TAIL_DAYS * 24):
        device.hour()
    assert device.duplicates() == 0, (device.model.order_json(), device.refills)
    assert device.refills, "served again"
