"""A fleet: many simulated appliances on one virtual clock against one emulator.

Each device has its own serial, slots, consumption and flash, and runs the real
firmware: for a large fleet on CPython inside this process (each agent driven as
``simhost`` drives it in a child process, on a flash kept in memory: 10 000 devices'
fsync'd files would measure the disk, not Amazon), for a small one as firmware child
processes. Every device loops
hourly at its own phase (a minute of the hour derived from its serial, as real
devices boot at random times); the clock moves minute by minute to the next device due.

The summary is the Amazon side's view: requests per second by route (mean and peak
minute), the spread of the daily reports over the day, the requests' latency as the
devices saw it (p50/p99, failures: timeouts and refused connections), plus the
device-side figures of a single simulation (orders, duplicates, stockouts).
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from drsctl.control_client import EmulatorControl
from drsctl.firmware import firmware_dir
from drsctl.sim.consumption import DAY, SlotWorld, default_worlds
from drsctl.sim.device import DeviceCrashed, DeviceProcess, write_flash
from drsctl.sim.harness import DEFAULT_START, SimOptions, configure_emulator, device_config
from drsctl.sim.report import duplicate_orders

_MINUTE = 60
IN_PROCESS_LIMIT = 20
"""Above this many devices a fleet runs in-process on CPython (one process per device
costs ~10 MB and a context switch per tick)."""


@dataclass
class FleetOptions:
    """What to simulate."""

    devices: int = 100
    days: float = 7.0
    slots: int = 2
    runtime: str = "cpython"
    seed: int = 1
    start: int = DEFAULT_START
    tick_s: int = 3600
    delivery_days: float = 2.0
    refill_delay_h: tuple[float, float] = (1.0, 8.0)
    in_process: bool | None = None
    """None: in-process on CPython above :data:`IN_PROCESS_LIMIT` devices."""


class Device(Protocol):
    """What the fleet needs of a device's firmware: one loop pass per tick."""

    def tick(self, t: int, raw: dict[str, float | None]) -> list[dict[str, Any]]:
        """Run one loop pass at virtual time ``t``; the events it emitted."""
        ...

    def stop(self) -> Any:
        """Power the device off."""
        ...


@dataclass
class Member:
    """One device of the fleet and its world."""

    serial: str
    device_id: str
    phase_s: int
    worlds: list[SlotWorld]
    device: Device
    last_t: int
    refills: list[tuple[int, str]] = field(default_factory=list)
    crashes: int = 0


def phase_of(serial: str, tick_s: int) -> int:
    """The device's loop phase: a whole minute within the tick, stable per serial."""
    return zlib.crc32(serial.encode()) % max(tick_s // _MINUTE, 1) * _MINUTE


class FirmwareInProcess:
    """The firmware on CPython in this process; builds one device at a time."""

    def __init__(self, log_path: Path) -> None:
        sys.path.insert(0, str(firmware_dir()))
        from drsagent import http, log
        from drsagent.agent import Agent
        from drsagent.hal import sim
        from drsagent.store import FlashStore

        class MemoryFlash(FlashStore):  # type: ignore[misc]
            """A device's flash as JSON texts in memory (same format, no disk)."""

            def __init__(self, files: dict[str, str]) -> None:
                super().__init__("/nonexistent-memory-flash")
                self.files = files

            def read_json(self, name: str) -> Any:
                import json

                if name not in self.files:
                    raise OSError(2, name)
                return json.loads(self.files[name])

            def write_json(self, name: str, data: Any) -> None:
                import json

                self.files[name] = json.dumps(data)

        self._flash = MemoryFlash
        self.boot = Agent.from_flash
        self.sim = sim
        self._log = log
        self._log_file = log_path.open("a")
        self.latencies: list[float] = []
        self.failures: Counter[str] = Counter()
        self._current = ""
        log.set_log_sink(lambda line: self._log_file.write(f"{self._current} {line}\n"))
        original = http.request

        def timed_request(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            except Exception as err:
                self.failures[type(err).__name__] += 1
                raise
            finally:
                self.latencies.append(time.perf_counter() - t0)

        http.request = timed_request
        self._restore: Callable[[], None] = lambda: setattr(http, "request", original)

    def device(self, serial: str, config: dict[str, Any], secrets: dict[str, Any]) -> Device:
        """A device booting from a fresh flash holding ``config`` and ``secrets``."""
        import json

        flash = self._flash(
            {"config.json": json.dumps(config), "secrets.json": json.dumps(secrets)}
        )
        return _InProcessDevice(self, serial, flash)

    def close(self) -> None:
        """Put the firmware's HTTP client and log sinks back; close the fleet's log file."""
        self._restore()
        self._log.set_log_sink(None)
        self._log.set_event_sink(None)
        self._log_file.close()


class _InProcessDevice:
    """One device's agent in this process, driven as simhost drives it in a child."""

    def __init__(self, firmware: FirmwareInProcess, serial: str, flash: Any) -> None:
        self.firmware = firmware
        self.serial = serial
        self.flash = flash
        self.clock = firmware.sim.SimClock()
        self.agent: Any = None

    def tick(self, t: int, raw: dict[str, float | None]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        self.firmware._current = self.serial
        self.firmware._log.set_event_sink(events.append)
        self.clock.set(t)
        self.firmware.sim.RAW.clear()
        self.firmware.sim.RAW.update(raw)
        try:
            if self.agent is None:  # boot on the first tick: the clock is set by then
                self.agent = self.firmware.boot(self.flash, self.clock)
            self.agent.step()
        except Exception as err:  # the firmware's own loop logs and carries on too
            raise DeviceCrashed(f"{type(err).__name__}: {err}") from err
        return events

    def stop(self) -> None:
        return None


class Fleet:
    """Provision, run and summarize a fleet (use as a context manager)."""

    def __init__(self, control: EmulatorControl, url: str, opts: FleetOptions, workdir: Path):
        self.control = control
        self.url = url
        self.opts = opts
        self.workdir = workdir
        self.rng = random.Random(opts.seed)
        in_process = opts.in_process
        if in_process is None:
            in_process = opts.runtime == "cpython" and opts.devices > IN_PROCESS_LIMIT
        if in_process and opts.runtime != "cpython":
            raise ValueError("an in-process fleet runs on CPython only")
        self.firmware = FirmwareInProcess(workdir / "fleet.log") if in_process else None
        self.members: list[Member] = []
        self.events: dict[str, int] = defaultdict(int)
        self.net_errors: Counter[str] = Counter()
        self._seen_delivered: set[str] = set()
        self._by_device: dict[str, Member] = {}
        self._last_look = 0  # emulator time of the last look at the orders

    def provision(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Register every device at the emulator and lay out its flash."""
        opts = self.opts
        self.control.set_clock(opts.start)
        configure_emulator(self.control, opts.delivery_days, opts.days)
        sim_opts = SimOptions(runtime=opts.runtime, tick_s=opts.tick_s)
        for n in range(opts.devices):
            serial = f"FLEET-{n:06d}"
            worlds = default_worlds(opts.slots, self.rng)
            for world in worlds:
                world.level = 0.2 + 0.75 * self.rng.random()
            creds = self.control.provision(serial=serial, slots=[{"id": w.slot_id} for w in worlds])
            config = device_config(serial, self.url, worlds, sim_opts)
            secrets = {
                "lwa": {k: creds[k] for k in ("client_id", "client_secret", "refresh_token")}
            }
            if self.firmware is not None:
                device: Device = self.firmware.device(serial, config, secrets)
            else:
                flash = self.workdir / serial
                write_flash(flash, config, secrets)
                process = DeviceProcess(opts.runtime, flash)
                process.start()
                device = process
            phase = phase_of(serial, opts.tick_s)
            member = Member(serial, creds["device_id"], phase, worlds, device, opts.start + phase)
            self.members.append(member)
            self._by_device[member.device_id] = member
            if progress:
                progress(n + 1, opts.devices)

    def run(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Simulate ``opts.days``: each device loops at its phase, all on one clock."""
        opts = self.opts
        by_phase: dict[int, list[Member]] = defaultdict(list)
        for member in self.members:
            by_phase[member.phase_s].append(member)
        phases = sorted(by_phase)
        ticks = int(opts.days * DAY // opts.tick_s)
        day0 = opts.start - opts.start % DAY
        for tick in range(ticks):
            for phase in phases:
                now = opts.start + tick * opts.tick_s + phase
                self.control.set_clock(now)
                for member in by_phase[phase]:
                    self._pass(member, now, day0)
            self._deliveries(opts.start + tick * opts.tick_s + phases[-1])
            if progress:
                progress(tick + 1, ticks)

    def _pass(self, member: Member, now: int, day0: int) -> None:
        for world in member.worlds:
            world.consume(member.last_t, now, self.rng, day0)
            if world.maybe_refill(now):
                member.refills.append((now, world.slot_id))
        member.last_t = now
        raw = {w.slot_id: w.raw(self.rng) for w in member.worlds}
        try:
            events = member.device.tick(now, raw)
        except DeviceCrashed:
            member.crashes += 1
            return
        for event in events:
            kind = event.get("ev", "?")
            self.events[kind] += 1
            if kind in ("net_error", "auth_error"):
                self.net_errors[f"{event.get('op')}: {event.get('kind')}"] += 1

    def _deliveries(self, now: int) -> None:
        """Schedule the household's refill of every order delivered since the last look."""
        low, high = self.opts.refill_delay_h
        for order in self.control.orders(updated_since=self._last_look):
            member = self._by_device.get(order["device_id"])
            if member is None or not order.get("delivered_at"):
                continue
            eid = order["event_instance_id"]
            if eid not in self._seen_delivered:
                self._seen_delivered.add(eid)
                world = next(w for w in member.worlds if w.slot_id == order["slot_id"])
                delay = int(self.rng.uniform(low, high) * 3600)
                world.refill_at = int(order["delivered_at"]) + delay
        self._last_look = now

    def requests(self) -> list[dict[str, Any]]:
        """The fleet's requests at the emulator (the request log)."""
        return [r for r in self.control.requests() if r.get("device_id") in self._by_device]

    def plot(self, path: Path) -> Path:
        """Write a PNG of Amazon's load over the day: requests per minute by route."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        per_minute: dict[str, list[float]] = defaultdict(lambda: [0.0] * (DAY // _MINUTE))
        for r in self.requests():
            per_minute[r.get("route") or "?"][int(r["t"]) % DAY // _MINUTE] += 1 / self.opts.days
        fig, ax = plt.subplots(figsize=(10, 4))
        hours = [m / 60 for m in range(DAY // _MINUTE)]
        for route, counts in sorted(per_minute.items()):
            ax.plot(hours, counts, label=route, linewidth=0.8)
        ax.set_xlabel("hour of the day (UTC)")
        ax.set_ylabel("requests per minute (mean day)")
        ax.set_title(f"{self.opts.devices} devices, {self.opts.days:g} days")
        ax.legend(loc="upper right", fontsize="small")
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return path

    def summary(self, wall_seconds: float) -> dict[str, Any]:
        """The fleet's figures (see the module docstring)."""
        opts = self.opts
        requests = self.requests()
        orders = [o for o in self.control.orders() if o["device_id"] in self._by_device]
        seconds = opts.days * DAY
        by_route: Counter[str] = Counter(r.get("route") or "?" for r in requests)
        per_minute: Counter[tuple[str, int]] = Counter(
            (r.get("route") or "?", int(r["t"]) // _MINUTE) for r in requests
        )
        load: dict[str, Any] = {}
        for route, count in sorted(by_route.items()):
            peak = max(n for (name, _), n in per_minute.items() if name == route)
            load[route] = {
                "requests": count,
                "mean_per_s": round(count / seconds, 4),
                "peak_minute_per_s": round(peak / _MINUTE, 3),
            }
        report_times = [int(r["t"]) for r in requests if r.get("route") == "deviceStatus"]
        reports = sorted(t % DAY for t in report_times)  # times of day
        report_minutes = Counter(t // _MINUTE for t in report_times)  # minutes of the run
        orders_by_device: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for order in orders:
            orders_by_device[order["device_id"]].append(order)
        duplicates = sum(
            duplicate_orders(orders_by_device[m.device_id], m.refills) for m in self.members
        )
        summary: dict[str, Any] = {
            "devices": opts.devices,
            "days": opts.days,
            "runtime": opts.runtime,
            "in_process": self.firmware is not None,
            "orders_placed": len(orders),
            "duplicate_orders": duplicates,
            "stockout_days": sum(len(w.stockout_days) for m in self.members for w in m.worlds),
            "crashes": sum(m.crashes for m in self.members),
            "requests": len(requests),
            "requests_per_device_day": round(len(requests) / opts.devices / opts.days, 3),
            "load_by_route": load,
            "peak_minute_requests": max(
                Counter(int(r["t"]) // _MINUTE for r in requests).values(), default=0
            ),  # fmt: skip
            "report_spread": {
                "first_utc": _clock_text(reports[0]) if reports else None,
                "last_utc": _clock_text(reports[-1]) if reports else None,
                "busiest_minute_reports": max(report_minutes.values(), default=0),
                "reports_by_hour_utc": dict(sorted(Counter(t // 3600 for t in reports).items())),
            },
            "net_errors": dict(sorted(self.net_errors.items())),
            "wall_seconds": round(wall_seconds, 1),
            "device_days_per_second": round(opts.devices * opts.days / wall_seconds, 1)
            if wall_seconds
            else None,
        }
        if self.firmware is not None:
            latencies = sorted(self.firmware.latencies)
            summary["latency"] = {
                "requests": len(latencies),
                "p50_s": round(latencies[len(latencies) // 2], 4) if latencies else None,
                "p99_s": round(latencies[int(len(latencies) * 0.99)], 4) if latencies else None,
                "max_s": round(latencies[-1], 4) if latencies else None,
                "failures": dict(self.firmware.failures),
            }
        return summary

    def close(self) -> None:
        """Stop every device process."""
        for member in self.members:
            member.device.stop()
        if self.firmware is not None:
            self.firmware.close()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _clock_text(seconds_of_day: int) -> str:
    return f"{seconds_of_day // 3600:02d}:{seconds_of_day // 60 % 60:02d}"


def simulate_fleet(
    opts: FleetOptions,
    emulator_url: str | None = None,
    workdir: Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    plot: Path | None = None,
) -> dict[str, Any]:
    """Provision and run a fleet; return its summary.

    Without ``emulator_url`` the emulator runs in a child process of its own (the
    devices keep this process busy).
    """
    with tempfile.TemporaryDirectory(prefix="drsctl-fleet-") as tmp:
        root = workdir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        with _emulator(emulator_url, root) as url, EmulatorControl(url) as control:
            with Fleet(control, url, opts, root) as fleet:
                fleet.provision(lambda d, n: progress("provision", d, n) if progress else None)
                t0 = time.perf_counter()
                fleet.run(lambda d, n: progress("run", d, n) if progress else None)
                summary = fleet.summary(time.perf_counter() - t0)
                if plot is not None:
                    summary["plot"] = str(fleet.plot(plot))
                return summary


def _emulator(url: str | None, root: Path) -> Any:
    import contextlib

    if url:
        return contextlib.nullcontext(url)
    from drsctl.bench_emulator import emulator_process

    @contextlib.contextmanager
    def child() -> Any:
        with emulator_process(root / "emulator.sqlite3") as server:
            yield server.url

    return child()
