"""`make soak`: the campaign that proves "never twice, never dry" (issue 12, sections
2, 3 and 6), as a table.

Each fault scenario runs one simulated device (the real firmware in its own process,
the MicroPython binary by default) against the emulator for a stretch of simulated
days (a device-year with ``--long``), with faults switched on in windows; then the
power-cut campaigns run: every I/O point of an order cycle at several off-durations
(CPython firmware on the power-cut flash), kill -9 at seeded moments (the real
process), and whole order cycles under sensor garbage (the CPython firmware in the
proof rig, host_tests/proof/sensor_garbage.py). Per row: orders, duplicate orders,
stockout days, the peak of the device's requests in any hour, the longest recovery
(from the end of a fault window to the device's next successful request), and
secrets found in any byte the firmware and the emulator wrote (device log, events,
state files, request log, server log).

    python -m host_tests.proof.soak [--long] [--days N] [--runtime cpython] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from drsctl.control_client import EmulatorControl
from drsctl.emulator.server import EmulatorThread
from drsctl.sim.consumption import SlotWorld
from drsctl.sim.device import DeviceCrashed
from drsctl.sim.harness import SimOptions, Simulation
from drsctl.sim.report import duplicate_orders

HOUR = 3600
TOKEN_PREFIXES = ("Atz" + "a|", "Atz" + "r|")  # built here: no token-shaped literal in the repo


@dataclass
class Row:
    """One line of the table."""

    scenario: str
    days: float
    orders: int = 0
    duplicates: int = 0
    stockout_days: int = 0
    peak_requests_per_hour: int = 0
    recovery_h: float = 0.0
    secrets_found: int = 0
    crashes: int = 0
    note: str = ""


class FaultWindow:
    """A fault scenario: every ``every_days`` a window of ``hours`` opens at a random
    hour; ``start`` arms it, ``stop`` clears it; ``skew_s``: the device's clock is off
    by that much while it is open (a clock jump forward or back)."""

    def __init__(
        self,
        every_days: float,
        hours: int,
        start: Callable[[Simulation, random.Random], None] | None = None,
        stop: Callable[[Simulation], None] | None = None,
        skew_s: int = 0,
    ) -> None:
        self.every_h = int(every_days * 24)
        self.hours = hours
        self.start = start or (lambda sim, rng: None)
        self.stop = stop or (lambda sim: sim.control.clear_faults())
        self.skew_s = skew_s


def _fault(route: str, kind: str, count: int = 1000, **extra: Any) -> Callable[..., None]:
    return lambda sim, rng: sim.control.fault(route, kind, count=count, **extra)


def _kill(sim: Simulation, rng: random.Random) -> None:
    """kill -9 in the middle of a pass; the device stays off for the window."""
    sim.advance_world(HOUR)
    sim.device.send_tick(sim.now, sim.readings())
    sim.cut_power()


def _power_on(sim: Simulation) -> None:
    sim.device.start()


SCENARIOS: dict[str, list[FaultWindow]] = {
    "no faults": [],
    "500/503 bursts": [
        FaultWindow(9, 6, _fault("*", "status", status=500)),
        FaultWindow(13, 3, _fault("*", "status", status=503)),
    ],
    "429 throttling": [FaultWindow(11, 8, _fault("*", "status", status=429))],
    "answers past the timeout": [FaultWindow(10, 4, _fault("*", "hang", count=3, after=True))],
    "dropped connections": [FaultWindow(7, 6, _fault("*", "drop", count=6, after=True))],
    "malformed bodies": [FaultWindow(7, 6, _fault("*", "malformed", count=6, after=True))],
    "expired access tokens": [
        FaultWindow(3, 1, lambda sim, rng: sim.control.expire_tokens(sim.device_id))
    ],
    "deleted slot (404)": [FaultWindow(30, 48, _fault("*", "status", status=404))],
    "power cuts (kill -9)": [FaultWindow(6, 12, _kill, _power_on)],
    "clock jumps": [
        FaultWindow(12, 6, skew_s=2 * 86400),
        FaultWindow(17, 6, skew_s=-86400),
    ],
}
SCENARIOS["mix"] = [w for name, ws in SCENARIOS.items() if name != "no faults" for w in ws]


def _secrets_in(blobs: list[bytes], secrets: list[str]) -> int:
    """How many occurrences of a secret or a token-shaped string the blobs hold."""
    found = 0
    for blob in blobs:
        text = blob.decode(errors="replace")
        found += sum(text.count(s) for s in secrets if s)
        found += sum(text.count(p) for p in TOKEN_PREFIXES)
    return found


class _LogCapture(logging.Handler):
    """Every record the emulator (and its server) logs while a scenario runs."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def run_scenario(name: str, days: float, runtime: str, workdir: Path, seed: int = 1) -> Row:
    """One simulated device under one fault scenario."""
    windows = SCENARIOS[name]
    rng = random.Random(seed)
    workdir.mkdir(parents=True, exist_ok=True)
    capture = _LogCapture()
    logging.getLogger().addHandler(capture)
    row = Row(name, days)
    try:
        with (
            EmulatorThread(workdir / "emulator.sqlite3") as emu,
            EmulatorControl(emu.url) as control,
        ):
            opts = SimOptions(
                runtime=runtime,
                days=days,
                slots=2,
                seed=seed,
                worlds=[
                    SlotWorld("slot-1", daily_use=0.05),
                    SlotWorld("slot-2", daily_use=0.11),
                ],
                config_overrides={"http_timeout_s": 1, "jitter_seed": seed},
            )
            sim = Simulation(control, emu.url, opts, workdir=workdir / "devices")
            secrets = json.loads((sim.flash / "secrets.json").read_text())["lwa"]
            sim.device.start()
            open_until: dict[int, int] = {}  # window index -> hour it closes
            next_at = {i: rng.randrange(24, max(25, w.every_h)) for i, w in enumerate(windows)}
            ends: list[int] = []
            try:
                for hour in range(int(days * 24)):
                    for i, w in enumerate(windows):
                        if open_until.get(i) == hour:
                            del open_until[i]
                            w.stop(sim)
                            ends.append(sim.now)
                        if next_at[i] == hour and i not in open_until:
                            w.start(sim, rng)
                            open_until[i] = hour + w.hours
                            next_at[i] = hour + w.every_h + rng.randrange(0, 24)
                    skew = sum(windows[i].skew_s for i in open_until)
                    if not sim.device.running:
                        sim.advance_world(HOUR)
                    elif skew:
                        sim.advance_world(HOUR)
                        _skewed_pass(sim, skew)
                    else:
                        sim.step()
                for i in list(open_until):
                    windows[i].stop(sim)
            finally:
                sim.close()
            requests = sim.requests()
            orders = sim.orders()
            row.orders = len(orders)
            row.duplicates = duplicate_orders(orders, sim.timeline.refills)
            row.stockout_days = sum(len(w.stockout_days) for w in sim.worlds)
            per_hour = Counter(int(r["t"]) // HOUR for r in requests)
            row.peak_requests_per_hour = max(per_hour.values(), default=0)
            row.recovery_h = _recovery_hours(ends, requests)
            row.crashes = len(sim.timeline.crashes)
            blobs = [
                json.dumps(sim.timeline.events).encode(),
                json.dumps(requests).encode(),
                "\n".join(capture.lines).encode(),
            ]
            for path in sim.flash.parent.glob("*.log"):
                blobs.append(path.read_bytes())
            for path in sim.flash.glob("state.*"):
                blobs.append(path.read_bytes())
            row.secrets_found = _secrets_in(
                blobs, [secrets["client_secret"], secrets["refresh_token"]]
            )
    finally:
        logging.getLogger().removeHandler(capture)
    return row


def _skewed_pass(sim: Simulation, skew: int) -> None:
    """One loop pass with the device's clock ``skew`` seconds off."""
    try:
        sim.record(sim.device.tick(sim.now + skew, sim.readings()))
    except DeviceCrashed as crash:
        sim.timeline.crashes.append(f"t={sim.now}: {crash}")
        sim.cut_power()
        sim.device.start()


def _recovery_hours(ends: list[int], requests: list[dict[str, Any]]) -> float:
    """The longest wait from the end of a fault window to the next 2xx request."""
    worst = 0.0
    for end in ends:
        after = [
            int(r["t"])
            for r in requests
            if int(r["t"]) >= end and r["status"] is not None and int(r["status"]) < 300
        ]
        if after:
            worst = max(worst, (min(after) - end) / HOUR)
    return round(worst, 1)


def power_cut_rows(workdir: Path, full: bool) -> list[Row]:
    """The enumerated power cuts (CPython firmware, fake flash) and the kill -9 runs."""
    from host_tests.proof.campaign import DURATIONS_S, enumerate_cuts
    from host_tests.proof.kill9 import kill_run
    from host_tests.proof.rig import DeviceRig, RigOptions

    rows = []
    with EmulatorThread(workdir / "cuts.sqlite3") as emu, EmulatorControl(emu.url) as control:
        serial = iter(range(1, 1_000_000))

        def make_rig(**opts: Any) -> DeviceRig:
            return DeviceRig(control, emu.url, f"CUT-{next(serial):05d}", RigOptions(**opts))

        for scenario in ("cycle", "cancel"):
            trials = enumerate_cuts(
                make_rig, scenario, durations=DURATIONS_S, stride=1 if full else 3
            )
            row = Row(f"power cut at every I/O point ({scenario})", 5)
            row.orders = sum(t.orders for t in trials)
            row.duplicates = sum(t.duplicates for t in trials)
            row.note = f"{len(trials)} trials, {sum(bool(t.problems) for t in trials)} failed"
            row.secrets_found = sum("secrets" in p for t in trials for p in t.problems)
            rows.append(row)
        runs = [
            kill_run(control, emu.url, workdir / "kill9", seed)
            for seed in range(1, (60 if full else 12) + 1)
        ]
        row = Row("kill -9 at seeded moments", 5)
        row.orders = sum(r.orders for r in runs)
        row.duplicates = sum(r.duplicates for r in runs)
        failed = [r.seed for r in runs if r.problems]
        row.note = f"{len(runs)} runs, failed seeds: {failed or 'none'}"
        rows.append(row)
    return rows


GARBAGE_ROW = "sensor garbage (noise, junk, disconnects, stuck, spikes at refill)"


def sensor_garbage_row(workdir: Path, full: bool) -> Row:
    """Whole order cycles under sensor garbage (host_tests/proof/sensor_garbage.py),
    CPython firmware in the proof rig, one run per seed."""
    from host_tests.proof.rig import DeviceRig, RigOptions
    from host_tests.proof.sensor_garbage import garbage_run, slot_config

    episodes = 6 if full else 2
    row = Row(GARBAGE_ROW, 0)
    failed = []
    with EmulatorThread(workdir / "garbage.sqlite3") as emu, EmulatorControl(emu.url) as control:
        for seed in range(1, (10 if full else 3) + 1):
            opts = RigOptions(level=1.0, daily_use=0.12, slot_config=slot_config(), seed=seed)
            rig = DeviceRig(control, emu.url, f"GARBAGE-{seed:03d}", opts)
            run = garbage_run(rig, episodes, max_days=15 * episodes)
            row.days += round(run.hours / 24, 1)
            row.orders += run.orders
            row.duplicates += run.duplicates
            row.stockout_days += run.stockout_days
            if run.problems(episodes):
                failed.append(seed)
    row.note = f"{seed} runs of {episodes} cycles, failed seeds: {failed or 'none'}"
    return row


COLUMNS = (
    ("scenario", "scenario"),
    ("days", "days"),
    ("orders", "orders"),
    ("duplicates", "duplicates"),
    ("stockout_days", "stockout days"),
    ("peak_requests_per_hour", "peak req/h"),
    ("recovery_h", "recovery h"),
    ("secrets_found", "secrets found"),
    ("crashes", "crashes"),
    ("note", "note"),
)


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table."""
    lines = [
        "| " + " | ".join(title for _, title in COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for row in rows:
        values = asdict(row)
        lines.append("| " + " | ".join(str(values[key]) for key, _ in COLUMNS) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--long", action="store_true", help="a device-year per scenario")
    parser.add_argument("--days", type=float, help="simulated days per scenario")
    parser.add_argument("--runtime", choices=("micropython", "cpython"), default="micropython")
    parser.add_argument("--only", help="run only the scenarios whose name contains this")
    parser.add_argument("--out", type=Path, default=Path("build/soak"), help="output folder")
    args = parser.parse_args(argv)
    days = args.days or (365.0 if args.long else 30.0)
    if days <= 0:
        parser.error("--days must be > 0")
    names = [n for n in SCENARIOS if not args.only or args.only in n]
    rows: list[Row] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        for index, name in enumerate(names):
            row = run_scenario(name, days, args.runtime, Path(tmp) / str(index))
            rows.append(row)
            print(f"{name}: {row.orders} orders, {row.duplicates} duplicates", file=sys.stderr)
        if not args.only:
            rows += power_cut_rows(Path(tmp), args.long)
        if not args.only or args.only in GARBAGE_ROW:
            rows.append(sensor_garbage_row(Path(tmp), args.long))
    text = table(rows)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "soak.md").write_text(text + "\n")
    (args.out / "soak.json").write_text(json.dumps([asdict(r) for r in rows], indent=1) + "\n")
    print(f"({time.perf_counter() - started:.0f} s; written to {args.out}/soak.md and soak.json)")
    bad = [r for r in rows if r.duplicates or r.secrets_found or "failed seeds: [" in r.note]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
