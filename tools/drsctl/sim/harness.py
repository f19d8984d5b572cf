"""Run simulated appliances against the fake Amazon on one virtual clock.

Per tick: the world consumes, the emulator's clock moves, delivered orders are put
in by the household, and the firmware runs one loop pass with the new readings.
The firmware is the real one (``firmware/``) in a child process; the emulator is
the real HTTP server; only the physical world is simulated.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import random
import ssl
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drsctl.control_client import EmulatorControl
from drsctl.sim.consumption import DAY, SlotWorld, default_worlds
from drsctl.sim.device import DeviceCrashed, DeviceProcess, write_flash
from drsctl.sim.traces import TraceWorld

# 2030-01-01 00:00:00 UTC: a fixed start, later than any fresh emulator's clock, so every
# run with the same seed is the same.
DEFAULT_START = 1893456000
# A firmware that crashes this many ticks in a row will not recover by itself (a heap too
# small to import it, say): the run stops instead of rebooting it for the rest of the year.
CRASH_LOOP_TICKS = 3


@dataclass
class SimOptions:
    """What to simulate."""

    runtime: str = "cpython"
    days: float = 60.0
    slots: int = 2
    heap: str | None = None
    # A MicroPython unix binary of one's own (e.g. the agent frozen in); None: the pinned one.
    micropython: str | None = None
    seed: int = 1
    tick_s: int = 3600
    start: int = DEFAULT_START
    delivery_days: float = 2.0
    # Policy settings written into every slot's config; None keeps the maker config's own.
    lead_time_days: float | None = 3.0
    margin_days: float | None = None
    seller: str = "acme"
    maker_config: dict[str, Any] | None = None
    refill_delay_h: tuple[float, float] = (1.0, 8.0)
    test_orders: bool = False
    initial_levels: list[float] | None = None
    worlds: list[SlotWorld] | None = None
    # Use per hour per slot (a trace, drsctl.sim.traces) instead of the built-in household.
    trace: dict[str, list[float]] | None = None
    # Each order's delivery lead time in hours, in turn: one list for every slot, or one
    # per slot; None: every order takes delivery_days.
    lead_time_hours: list[float] | dict[str, list[float]] | None = None
    config_overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> str:
        """The simulated device's model.

        Its first part names the seller (one brand, one seller, as the emulator files orders).
        """
        return f"{self.seller}-sim-appliance"


@dataclass
class Timeline:
    """What happened, for the summary, the story and the plot."""

    times: list[int] = field(default_factory=list)
    levels: dict[str, list[float]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    refills: list[tuple[int, str]] = field(default_factory=list)
    mem_free: list[int] = field(default_factory=list)
    mem_alloc: list[int] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)


def device_config(
    serial: str, emulator_url: str, worlds: list[SlotWorld], opts: SimOptions
) -> dict[str, Any]:
    """The ``config.json`` a provisioned simulated device carries.

    With ``opts.maker_config`` (a maker's real ``config.json``) its settings are kept;
    only what ties it to a real board and to Amazon is replaced: the serial, the
    endpoints, the CA bundle (set by the caller) and each slot's sensor driver.
    """
    config: dict[str, Any] = copy.deepcopy(opts.maker_config or {})
    config.pop("ca_file", None)
    config["device"] = {**config.get("device", {}), "serial": serial, "model": opts.model}
    config["endpoints"] = {"drs": emulator_url, "lwa": emulator_url + "/auth/o2/token"}
    config["loop_interval_s"] = opts.tick_s
    config.setdefault("http_timeout_s", 10)
    config["test_orders"] = opts.test_orders
    maker_slots = {s["id"]: s for s in config.get("slots", [])}
    config["slots"] = []
    for world in worlds:
        slot = dict(maker_slots.get(world.slot_id, {}), id=world.slot_id)
        slot["sensor"] = {"driver": "sim", "empty": world.empty_raw, "full": world.full_raw}
        if opts.lead_time_days is not None:
            slot["lead_time_days"] = opts.lead_time_days
        if opts.margin_days is not None:
            slot["margin_days"] = opts.margin_days
        config["slots"].append(slot)
    if emulator_url.startswith("http://"):
        config["allow_plain_http"] = True  # the emulator on this machine, without --tls
    config.update(opts.config_overrides)
    return config


def slot_ids_of(maker_config: dict[str, Any]) -> list[str]:
    """The slot ids of a maker's ``config.json``; ``ValueError`` says what is wrong with it."""
    slots = maker_config.get("slots") if isinstance(maker_config, dict) else None
    if not isinstance(slots, list) or not 1 <= len(slots) <= 8:
        raise ValueError('needs a "slots" list of 1 to 8 slots')
    ids = []
    for index, slot in enumerate(slots):
        if not isinstance(slot, dict) or not isinstance(slot.get("id"), str) or not slot["id"]:
            raise ValueError(f'slots[{index}] needs an "id" string')
        ids.append(slot["id"])
    if len(set(ids)) != len(ids):
        raise ValueError("slot ids must be unique")
    return ids


def configure_emulator(control: EmulatorControl, delivery_days: float, days: float) -> None:
    """Set the delivery time; keep the request log for the whole run (the summary reads it)."""
    settings = control.settings(delivery_days=delivery_days)
    keep_days = math.ceil(days) + 1
    if 0 < settings.get("retention_days", 0) < keep_days:
        control.settings(retention_days=keep_days)


class Simulation:
    """One device, its world, and a link to the emulator.

    Use as a context manager around :meth:`run`, or drive :meth:`step` yourself
    (the end-to-end tests do, to inject faults and cut the power between ticks).
    """

    def __init__(
        self,
        control: EmulatorControl,
        emulator_url: str,
        opts: SimOptions,
        workdir: Path | None = None,
        serial: str = "SIM-0001",
        ca_pem: str | None = None,
    ) -> None:
        self.control = control
        # The emulator's clock never goes back: a long-lived one may already be later
        # than the requested start (this run's copy of the options says when it began).
        emulator_now = control.now()
        if emulator_now > opts.start:
            opts = dataclasses.replace(opts, start=emulator_now - emulator_now % DAY + DAY)
        self.opts = opts
        self.rng = random.Random(opts.seed)
        if opts.worlds:
            self.worlds = opts.worlds
        elif opts.trace:
            self.worlds = [TraceWorld(slot, use, opts.start) for slot, use in opts.trace.items()]
        else:
            self.worlds = default_worlds(opts.slots, self.rng)
        if opts.maker_config is not None and opts.worlds is None and opts.trace is None:
            for world, slot_id in zip(self.worlds, slot_ids_of(opts.maker_config), strict=True):
                world.slot_id = slot_id
        levels = opts.initial_levels or [0.55 + 0.4 * self.rng.random() for _ in self.worlds]
        for world, level in zip(self.worlds, levels, strict=False):
            world.level = level
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="drsctl-sim-")
            workdir = Path(self._tmp.name)
        self.flash = workdir / serial
        self.timeline = Timeline(levels={w.slot_id: [] for w in self.worlds})
        self.now = opts.start
        self.day0 = opts.start - opts.start % DAY
        self._seen_delivered: set[str] = set()
        # Ask the emulator about orders only while one may be out (or may have been
        # placed): one control call less per tick in the long quiet stretches.
        self._orders_out = True
        self._open: set[str] = set()  # orders out (neither delivered nor canceled)
        self._last_look = 0  # emulator time of the last look at the orders
        self._first_request_id = 0
        self._crashes_in_a_row = 0
        self._orders_placed: dict[str, int] = {}  # per slot, for its lead times

        control.set_clock(self.now)
        configure_emulator(control, opts.delivery_days, opts.days)
        creds = control.provision(
            serial=serial,
            slots=[{"id": w.slot_id} for w in self.worlds],
            model=opts.model,
            test_orders=opts.test_orders,
        )
        self.device_id: str = creds["device_id"]
        config = device_config(serial, emulator_url, self.worlds, opts)
        if ca_pem:
            config["ca_file"] = "ca.pem"
            self.flash.mkdir(parents=True, exist_ok=True)
            (self.flash / "ca.pem").write_text(Path(ca_pem).read_text())
        secrets = {
            "lwa": {
                "client_id": creds["client_id"],
                "client_secret": creds["client_secret"],
                "refresh_token": creds["refresh_token"],
            }
        }
        write_flash(self.flash, config, secrets)
        existing = control.requests()
        self._first_request_id = existing[-1]["id"] if existing else 0
        self.device = DeviceProcess(opts.runtime, self.flash, opts.heap, opts.micropython)

    def install(self) -> None:
        """Switch the device on and let it take its first reading at the start time.

        As an appliance installed before the run's first tick: the firmware holds a
        first reading until the next one agrees, so a fresh device could not act on
        the first tick otherwise.
        """
        self.device.start()
        self.device_pass()

    def __enter__(self) -> Simulation:
        self.device.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Power the device off and remove temporary files."""
        self.device.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # -- the world ---------------------------------------------------------

    def _deliveries(self) -> None:
        """Schedule a refill for every order the emulator says was delivered.

        Only while an order may be out, and only the orders changed since the last look.
        """
        if not self._orders_out:
            return
        for order in self.control.orders(self.device_id, updated_since=self._last_look):
            eid = order["event_instance_id"]
            if order.get("delivered_at") and eid not in self._seen_delivered:
                self._seen_delivered.add(eid)
                world = self._world(order["slot_id"])
                low, high = self.opts.refill_delay_h
                delay = int(self.rng.uniform(low, high) * 3600)
                world.refill_at = int(order["delivered_at"]) + delay
            if order.get("delivered_at") or order.get("canceled_at"):
                self._open.discard(eid)
            else:
                self._open.add(eid)
        self._last_look = self.now
        self._orders_out = bool(self._open)

    def _world(self, slot_id: str) -> SlotWorld:
        return next(w for w in self.worlds if w.slot_id == slot_id)

    def advance_world(self, seconds: int) -> None:
        """Let time pass in the world and at the emulator (no device loop pass)."""
        t_to = self.now + seconds
        for world in self.worlds:
            world.consume(self.now, t_to, self.rng, self.day0)
        self.now = t_to
        self.control.set_clock(self.now)
        self._deliveries()
        for world in self.worlds:
            if world.maybe_refill(self.now):
                self.timeline.refills.append((self.now, world.slot_id))

    def readings(self) -> dict[str, float | None]:
        """Every slot's raw sensor value right now."""
        return {w.slot_id: w.raw(self.rng) for w in self.worlds}

    def record(self, events: list[dict[str, Any]]) -> None:
        """Keep the levels and the device's events for the report."""
        self.timeline.times.append(self.now)
        for world in self.worlds:
            self.timeline.levels[world.slot_id].append(world.level)
        for event in events:
            if event.get("ev") == "tick":
                self.timeline.mem_free.append(int(event.get("mem_free", -1)))
                self.timeline.mem_alloc.append(int(event.get("mem_alloc", -1)))
            else:
                self.timeline.events.append(event)
                if event.get("ev") in ("order_placed", "order_adopted"):
                    self._orders_out = True
                if event.get("ev") == "order_placed" and event.get("eid"):
                    self._give_lead_time(event["slot"], event["eid"])

    def _give_lead_time(self, slot_id: str, event_instance_id: str) -> None:
        """Have a new order arrive after its lead time (the run's n-th for the slot)."""
        leads = self.opts.lead_time_hours
        if isinstance(leads, dict):
            leads = leads.get(slot_id)
        if not leads:
            return
        placed = self._orders_placed.get(slot_id, 0)
        self._orders_placed[slot_id] = placed + 1
        self.control.set_delivery(event_instance_id, leads[placed % len(leads)])

    def step(self) -> list[dict[str, Any]]:
        """One tick: the world moves on, then the device runs one loop pass.

        A firmware crash is recorded and the device reboots from its flash, as a
        watchdog would do on the board.
        """
        self.advance_world(self.opts.tick_s)
        return self.device_pass()

    def device_pass(self) -> list[dict[str, Any]]:
        """Run the device's loop once at the current time and record the result."""
        try:
            events = self.device.tick(self.now, self.readings())
        except DeviceCrashed as crash:
            self.timeline.crashes.append(f"t={self.now}: {crash}")
            self._crashes_in_a_row += 1
            self.cut_power()
            self.device.start()
            events = []
        else:
            self._crashes_in_a_row = 0
        self.record(events)
        return events

    def cut_power(self) -> None:
        """Kill the device process (kill -9).

        The household keeps an eye on the porch: it may have ordered before it died.
        """
        self._orders_out = True
        self.device.kill()

    def run(self, progress: Callable[[int, int], None] | None = None) -> Timeline:
        """Simulate ``opts.days`` days; ``progress(done, total)`` after each tick.

        Stops early when the firmware crashes ``CRASH_LOOP_TICKS`` ticks in a row.
        """
        total = int(self.opts.days * DAY // self.opts.tick_s)
        for done in range(1, total + 1):
            self.step()
            if self._crashes_in_a_row >= CRASH_LOOP_TICKS:
                break
            if progress:
                progress(done, total)
        return self.timeline

    def orders(self) -> list[dict[str, Any]]:
        """The orders of this device at the emulator."""
        return self.control.orders(self.device_id)

    def requests(self) -> list[dict[str, Any]]:
        """The requests of this device at the emulator, since it was provisioned."""
        return [
            r
            for r in self.control.requests(since=self._first_request_id)
            if r.get("device_id") == self.device_id
        ]


@contextlib.contextmanager
def emulator_for(
    url: str | None, workdir: Path, tls: bool = False, ca_file: Path | None = None
) -> Iterator[tuple[str, EmulatorControl, str | None]]:
    """Use the emulator at ``url`` (verified with ``ca_file``), or start a private one.

    Yields (url, control client, CA bundle the device must trust or None).
    """
    if url:
        verify: ssl.SSLContext | bool = True
        if ca_file is not None:
            verify = ssl.create_default_context(cafile=str(ca_file))
        with EmulatorControl(url, verify=verify) as control:
            yield url, control, (str(ca_file) if ca_file is not None else None)
        return
    from drsctl.emulator.server import EmulatorThread
    from drsctl.sim.local_control import LocalControl

    with EmulatorThread(workdir / "emulator.sqlite3", tls=tls) as emu:
        verify = True
        if emu.ca_pem_path:
            verify = ssl.create_default_context(cafile=str(emu.ca_pem_path))
        with LocalControl(emu.url, emu.store, verify=verify) as control:
            yield emu.url, control, (str(emu.ca_pem_path) if emu.ca_pem_path else None)


def wall_clock() -> float:
    """Seconds on a monotonic clock, for the speed figure in the summary."""
    return time.perf_counter()
