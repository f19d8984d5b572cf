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
    st.integers(1, 30),  # hours this step lasts
    st.sampled_from((None, None, None) + FAULTS),  # the fault on every call meanwhile
    st.sampled_from(("none", "none", "reboot", "cut", "cancel")),
    st.integers(1, 8),  # the I/O point of a cut
)


class ModelDevice:
    """The firmware on a fake flash with the Amazon model below its DRS calls."""

    def __init__(self, daily_use: float, level: float, refill_h: float, seed: int) -> None:
        self.rng = random.Random(seed)
        self.model = AmazonModel(delivery_s=DAY, now=START)
        self.world = SlotWorld(SLOT, daily_use=daily_use, noise=0.0, sensor_noise=0.0)
        self.world.level = level
        self.refill_h = refill_h
        self.refills: list[tuple[int, str]] = []
        self.switch = PowerSwitch()
        self.flash = Flash(self.switch)
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
        elif event == "cut":
            device.switch.arm(point)
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
