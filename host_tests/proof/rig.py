"""One appliance in this process, for power-cut campaigns: the CPython firmware (the
real agent, store, DRS client, LwA and HTTP code) on the fake flash of power.py,
talking over real HTTP to the real emulator, in a simulated household.

Time is virtual: each :meth:`DeviceRig.hour` moves the household, the emulator's
clock and the device's clock by one hour and runs one loop pass (unless the device
is off). A power cut raised anywhere in the pass turns the device off for
``off_s`` seconds; it then boots from what is on its flash, as a board would.
"""

from __future__ import annotations

import contextlib
import json
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drsctl.control_client import EmulatorControl
from drsctl.sim.consumption import DAY, SlotWorld
from drsctl.sim.report import duplicate_orders

from host_tests.proof.power import FLASH_ROOT, Flash, PowerCut, PowerSwitch, network_switch

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
if str(FIRMWARE) not in sys.path:
    sys.path.insert(0, str(FIRMWARE))

HOUR = 3600
SLOT = "slot-1"


@dataclass
class RigOptions:
    """One device with one slot, and its household."""

    level: float = 0.09  # below the floor: the episode starts on the first pass
    daily_use: float = 0.03
    delivery_days: float = 1.0
    refill_delay_h: tuple[float, float] = (1.0, 8.0)
    lead_time_days: float = 1.0
    seed: int = 1
    # The device is on an hour before the test starts and takes its first reading, which
    # it holds until the next one agrees; False: the test starts with a device that has
    # never read its sensor.
    installed: bool = True
    slot_config: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def no_gc_collect() -> Iterator[None]:
    """The firmware collects around every network call to keep a microcontroller's heap
    in one piece; in a test process with a large heap each collection takes tens of
    milliseconds and measures nothing, so the rig skips them (the MicroPython
    campaigns keep them)."""
    patched = [
        (m, m.collect)
        for name, m in list(sys.modules.items())
        if name.startswith("drsagent") and callable(getattr(m, "collect", None))
    ]
    for m, _ in patched:
        m.collect = _no_collect
    try:
        yield
    finally:
        for m, real in patched:
            m.collect = real


def _no_collect() -> None:
    return None


class DeviceRig:
    """A provisioned device on a fake flash, its slot's world, and a power switch."""

    def __init__(self, control: EmulatorControl, url: str, serial: str, opts: RigOptions) -> None:
        self.control = control
        self.opts = opts
        self.rng = random.Random(opts.seed)
        # A little sensor noise: a slot above its floor reading exactly the same value
        # for two days is a stuck sensor to the firmware, and a stuck sensor never orders.
        self.world = SlotWorld(SLOT, daily_use=opts.daily_use, noise=0.0, sensor_noise=0.001)
        self.world.level = opts.level
        self.now = control.now()
        self.now += DAY - self.now % DAY + 8 * HOUR  # 08:00 of the next day
        if opts.installed:
            self.now -= HOUR  # on an hour before: see below
        self.day0 = self.now - self.now % DAY
        control.set_clock(self.now)
        control.settings(delivery_days=opts.delivery_days)
        creds = control.provision(serial=serial, slots=[{"id": SLOT}])
        self.device_id: str = creds["device_id"]
        self.device_ids = [self.device_id]  # every registration this device has had
        self.secrets = {
            "lwa": {k: creds[k] for k in ("client_id", "client_secret", "refresh_token")}
        }
        self.switch = PowerSwitch()
        self.flash = Flash(self.switch)
        slot = {
            "id": SLOT,
            "sensor": {"driver": "sim", "empty": self.world.empty_raw, "full": self.world.full_raw},
            "lead_time_days": opts.lead_time_days,
        }
        slot.update(opts.slot_config)
        config = {
            "device": {"serial": serial},
            "endpoints": {"drs": url, "lwa": url + "/auth/o2/token"},
            "allow_plain_http": True,  # the loopback development emulator
            "http_timeout_s": 5,
            "jitter_seed": opts.seed,  # a replayable jitter
            "slots": [slot],
        }
        config.update(opts.config)
        self.flash.files["config.json"] = json.dumps(config).encode()
        self.flash.files["secrets.json"] = json.dumps(self.secrets).encode()
        self.events: list[dict[str, Any]] = []
        self.refills: list[tuple[int, str]] = []
        self.boots = 0
        self.points_at: list[tuple[int, int]] = []  # (time, I/O points done) per pass
        self.cuts: list[str] = []
        self.off_until: int | None = None
        self.off_s = HOUR
        self.agent: Any = None
        self._seen_delivered: set[str] = set()
        if opts.installed:
            self.device_pass()
            self.now += HOUR
            control.set_clock(self.now)

    # -- the device --------------------------------------------------------------------

    def _emit(self, ev: str, **fields: Any) -> None:
        self.events.append({"ev": ev, **fields})

    def _boot(self) -> None:
        from drsagent.agent import Agent
        from drsagent.hal.sim import SimClock
        from drsagent.store import FlashStore

        self.boots += 1
        self.check_flash()
        self.clock = SimClock(self.now)
        self.agent = Agent.from_flash(
            FlashStore(FLASH_ROOT),
            self.clock,
            make_sensor=lambda c: lambda: self.raw(),  # self.raw may be swapped any time
            emit=self._emit,
        )

    def raw(self) -> float | None:
        """The slot's sensor reading right now."""
        return self.world.raw(self.rng)

    def device_pass(self) -> None:
        """One loop pass at the current time (boot first if the device is off)."""
        if self.off_until is not None:
            if self.now < self.off_until:
                return
            self.off_until = None
            self.agent = None
        with self.flash.mounted(), network_switch(self.switch), no_gc_collect():
            try:
                if self.agent is None:
                    self.switch.power_on()
                    self._boot()
                self.clock.set(self.now)
                self.agent.step()
            except PowerCut:
                self.cuts.append(f"t={self.now}: {self.switch.cut_label}")
                self.agent = None
                self.off_until = self.now + self.off_s
        self.points_at.append((self.now, self.switch.points))

    def reprovision(self) -> dict[str, Any]:
        """Register the device anew with Amazon (the emulator drops the old registration)
        and send the new LwA credentials over the setup console's ``lwa`` frame, between
        two passes, the way a maker's desktop does; return the console's reply. The
        agent then reloads its files, as the device loop does after a console change."""
        from drsagent import improv, setup

        serial = json.loads(self.flash.files["config.json"])["device"]["serial"]
        creds = self.control.provision(serial=serial, slots=[{"id": SLOT}])
        self.device_id = creds["device_id"]
        self.device_ids.append(self.device_id)
        lwa = {k: creds[k] for k in ("client_id", "client_secret", "refresh_token")}
        self.clock.set(self.now)
        console = _SetupConsole(self.clock, self.agent)
        frame = json.dumps({"cmd": "lwa", "id": 1, **lwa}).encode()
        with self.flash.mounted():
            setup.handle(console, (improv.SETUP, improv.TYPE_REQUEST, frame))
        reply = console.replies[-1]
        if reply.get("ok"):
            self.secrets = {"lwa": lwa}
            if self.agent is not None:
                self.agent.config = None  # the loop reloads what the console changed
        return reply

    def cut(self, off_s: int, point: int | None = None, label: str | None = None) -> None:
        """Cut the power at the ``point``-th I/O point from now on (or at the next one
        labelled ``label``), for ``off_s`` seconds."""
        self.switch.arm(point, label)
        self.off_s = off_s

    # -- the household -------------------------------------------------------------------

    def hour(self) -> None:
        """One hour passes for the household, Amazon and the device."""
        self.advance()
        self.device_pass()

    def advance(self) -> None:
        """One hour passes for the household and Amazon (the device does not run)."""
        t_to = self.now + HOUR
        self.world.consume(self.now, t_to, self.rng, self.day0)
        self.now = t_to
        self.control.set_clock(self.now)
        for order in self.orders():
            eid = order["event_instance_id"]
            if order.get("delivered_at") and eid not in self._seen_delivered:
                self._seen_delivered.add(eid)
                low, high = self.opts.refill_delay_h
                self.world.refill_at = int(order["delivered_at"]) + int(
                    self.rng.uniform(low, high) * HOUR
                )
        if self.world.maybe_refill(self.now):
            self.refills.append((self.now, SLOT))

    def put_in(self) -> None:
        """The household puts a full container in now."""
        self.world.level = 1.0
        self.world.refill_at = None
        self.refills.append((self.now, SLOT))

    def run(self, hours: int) -> None:
        for _ in range(hours):
            self.hour()

    # -- what happened ---------------------------------------------------------------------

    def orders(self) -> list[dict[str, Any]]:
        """Every order of this device, under each of its registrations."""
        return [o for device_id in self.device_ids for o in self.control.orders(device_id)]

    def duplicates(self) -> int:
        return duplicate_orders(self.orders(), self.refills)

    def state(self) -> dict[str, Any]:
        """state.json as it is on flash."""
        return json.loads(self.flash.files["state.json"])

    def slot_state(self) -> dict[str, Any]:
        return self.state()["slots"][SLOT]

    def events_named(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["ev"] == name]

    def check_flash(self) -> None:
        """What a boot finds must be readable and the credentials intact."""
        files = self.flash.files
        for name in ("config.json", "secrets.json", "state.json", "state.bak"):
            if name in files:
                json.loads(files[name])  # a torn file here would be a broken write path
        assert json.loads(files["secrets.json"]) == self.secrets, "secrets lost or changed"


class _SetupConsole:
    """What setup.handle needs of the board's console (console.Console): the flash,
    the clock, the running agent; it keeps the replies instead of writing a port."""

    def __init__(self, clock: Any, agent: Any) -> None:
        from drsagent.store import FlashStore

        self.store = FlashStore(FLASH_ROOT)
        self.clock = clock
        self.agent = agent
        self.changes = 0
        self.recent: list[str] = []
        self.replies: list[dict[str, Any]] = []

    def send(self, header: bytes, kind: int, data: bytes) -> None:
        self.replies.append(json.loads(data))

    def refuse(self, header: bytes, why: str) -> None:
        self.replies.append({"ok": False, "error": why})
