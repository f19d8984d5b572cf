"""``make bench``: measure what a device maker asks first and commit the numbers.

- the lowest ``-X heapsize`` at which the 60-day MicroPython simulation completes
  (no crash, no MemoryError, no duplicate order);
- the heap the agent needs beyond its own code: the run's peak allocation minus what
  the agent's loaded ``.mpy`` modules occupy (a frozen build keeps its code in flash,
  so this approximates the heap a frozen build needs);
- the firmware's size compiled with ``mpy-cross`` (what goes onto the board);
- HTTP requests per order cycle and per device-day in steady state, LwA's share;
- simulated device-days per wall second on each runtime;
- the emulator side by side with a bare uvicorn endpoint (requests per second and, when
  valgrind is installed, instructions per request), its SQL per request and its cost at
  1 000 vs 20 000 orders (:mod:`drsctl.bench_emulator`);
- where a year-long simulation spends its time (:mod:`drsctl.bench_sim`);
- a fleet on one emulator: load, report spread, latency (:mod:`drsctl.sim.fleet`);
- the replenishment policy on seeded year-long traces beside two baselines
  (:mod:`drsctl.bench_policy`).

Results are counts and ratios, written to ``bench/results.json`` and
``bench/RESULTS.md``; no test asserts a wall-clock time.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from drsctl import bench_emulator, bench_policy, bench_sim
from drsctl.firmware import compile_firmware, micropython_binary
from drsctl.sim.device import parse_heap
from drsctl.sim.fleet import FleetOptions, simulate_fleet

# What the agent loop keeps imported (their own imports follow): measured as loaded
# .mpy code in the heap. Boot-only and rare modules are unloaded after use.
LOOP_MODULES = (
    "drsagent.agent",
    "drsagent.store",
    "drsagent.drs",
    "drsagent.lwa",
    "drsagent.hal.sim",
)


# Issue 7's bound: the lowest heap may grow by at most 4 KiB over the figure before the
# readability refactor, measured with LwA tokens of realistic length (54 KiB).
HEAP_BOUND_KIB = 58

# Written by make bench-frozen (drsctl.bench_frozen), which needs a MicroPython source tree.
FROZEN = Path("bench/FROZEN.md")
# Earlier figures of the lowest heap, by hand (the bench measures only today's code).
NOTES = Path("bench/NOTES.md")
"""Hand-measured notes (figures a run does not measure), copied into RESULTS.md as they are."""

HEAP_HISTORY = (
    ("before the readability refactor, ~100-character tokens", "52 KiB"),
    ("before the readability refactor, realistic (389-character) tokens", "54 KiB"),
    ("after the refactor, ~100-character tokens", "64 KiB"),
    ("after the refactor, realistic tokens", "68 KiB"),
    ("boot compacts config and secrets after validation, realistic tokens", "66 KiB"),
    ("compiled modules carry their dotted name as source name (one name less each)", "62 KiB"),
    ("the LwA refresh keeps no old token and no answer headers while parsing", "60 KiB"),
    ("main after the next merges (60 KiB no longer completes)", "62 KiB"),
    ("a request's body is sent with a second call, not copied beside the headers", "60 KiB"),
    ("the possibly-placed order latch (issue 12), names crossing a qstr pool", "70 KiB"),
    ("the learning policy (issue 10): lead times, 28-day use history, 3 lazy modules", "74 KiB"),
    ("back to 300 interned names (was 334): no fifth qstr pool", "70 KiB"),
    ("294 names; header lines sent without a formatted copy", "70 KiB (69.0 to 256 bytes)"),
    (
        "back-office version pairs loaded with drsadmin; one string per config key name",
        "68 KiB (68.0 to 256 bytes)",
    ),
    ("sensor-glitch holds, the deep-sleep filter restore, the token before the latch", "70 KiB"),
    (
        "a collect before LwA's answer is parsed; a DRS call builds nothing before its token",
        "68 KiB (68.0 to 256 bytes)",
    ),
    (
        "boot-only slot keys and config calls out of the loop's modules; the first order "
        "after one whole day of use",
        "66 KiB (66.0 to 256 bytes)",
    ),
)


def run_sim(
    runtime: str,
    days: float,
    heap: str | None = None,
    slots: int = 2,
    binary: str | None = None,
) -> dict[str, Any]:
    """One ``drsctl simulate --json`` run in a fresh process; its summary.

    ``binary``: a MicroPython build of one's own (``--micropython``).
    """
    cmd = [
        str(Path(sys.executable).with_name("drsctl")),
        "simulate",
        "--runtime",
        runtime,
        "--days",
        str(days),
        "--slots",
        str(slots),
        "--json",
    ]
    if heap:
        cmd += ["--heap", heap]
    if binary:
        cmd += ["--micropython", binary]
    done = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        return {"crashes": 1, "error": (done.stderr or done.stdout).strip()[-400:]}


def code_heap_bytes(mpy_tree: Path) -> int:
    """Heap that importing the loop's compiled modules takes in a fresh MicroPython."""
    imports = "; ".join(f"import {name}" for name in LOOP_MODULES)
    script = (
        "import gc; gc.collect(); before = gc.mem_alloc(); "
        f"{imports}; gc.collect(); print(gc.mem_alloc() - before)"
    )
    done = subprocess.run(
        [micropython_binary(), "-c", script],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={"MICROPYPATH": str(mpy_tree), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    return int(done.stdout.split()[-1])


def completes(summary: dict[str, Any], reference: dict[str, Any]) -> bool:
    """A run counts only if it behaved exactly as the run with plenty of heap did.

    The agent survives a MemoryError (it logs a network error or a failed step and
    tries again later), so "no crash" is not enough: every order must go out at the
    same time, once, with no error the reference run did not have.
    """
    return (
        summary.get("crashes") == 0
        and summary.get("duplicate_orders") == 0
        and summary.get("stockout_days") == 0
        and summary.get("net_errors") == reference.get("net_errors")
        and summary.get("orders") == reference.get("orders")
    )


def lowest_heap(
    days: float,
    reference: dict[str, Any],
    low_k: int = 16,
    high_k: int = 128,
    step_k: int = 2,
    binary: str | None = None,
) -> int | None:
    """Bisect the smallest heap (KiB, multiple of ``step_k``) that completes."""
    if not completes(run_sim("micropython", days, f"{high_k}k", binary=binary), reference):
        return None
    while high_k - low_k > step_k:
        mid = (low_k + high_k) // 2 // step_k * step_k
        if completes(run_sim("micropython", days, f"{mid}k", binary=binary), reference):
            high_k = mid
        else:
            low_k = mid
    return high_k


def heap_only(days: float) -> int:
    """Print the lowest heap of the MicroPython run (one measured step of a heap change)."""
    heap_k = lowest_heap(days, reference=run_sim("micropython", days))
    if heap_k is None:
        print("the run does not complete even with the largest heap tried", file=sys.stderr)
        return 1
    print(f"lowest heap: {heap_k} KiB")
    return 0


def markdown(results: dict[str, Any], frozen: Path = FROZEN) -> str:
    """The committed, human-readable form of the results.

    ``frozen``: the section of ``make bench-frozen`` to copy in (if it exists).
    """
    sim = results["simulation_60d_micropython"]
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m drsctl.bench`). Counts and ratios only.",
        "",
        "| figure | value | target |",
        "|---|---|---|",
        f"| lowest `-X heapsize` completing the 60-day MicroPython run, agent loaded as "
        f'`.mpy` (frozen in: see "The agent frozen in" below) | '
        f"{results['lowest_heapsize_kib']} KiB | <= {HEAP_BOUND_KIB} KiB (aim 32) |",
        f"| heap beyond the agent's own code (peak allocation minus loaded `.mpy`) | "
        f"{results['heap_beyond_code_bytes']} bytes | |",
        f"| loaded `.mpy` code of the agent loop, in the heap | "
        f"{results['code_heap_bytes']} bytes | 0 when frozen |",
        f"| firmware `.mpy` total (device modules, mpy-cross -O2) | "
        f"{results['mpy_total_bytes'] / 1024:.1f} KiB | < 48 KiB (aim 32) |",
        f"| HTTP requests per order cycle | {sim['requests_per_order_cycle']} | |",
        f"| HTTP requests per device-day, steady state | "
        f"{sim['requests_per_device_day_steady']} | <= 2 |",
        f"| duplicate orders (60 days, 2 slots) | {sim['duplicate_orders']} | 0 |",
        f"| stockout days (60 days, 2 slots) | {sim['stockout_days']} | 0 |",
        f"| simulated device-days per wall second, CPython | "
        f"{results['device_days_per_second']['cpython']} | |",
        f"| simulated device-days per wall second, MicroPython | "
        f"{results['device_days_per_second']['micropython']} | |",
    ]
    if "speed" in results:
        lines += speed_markdown(results["speed"])
    lines += fleet_markdown(sorted(Path(FLEET_RUNS).glob("fleet-*.json")))
    lines += ["", "Module sizes (bytes):", ""]
    lines += [f"- `{name}`: {size}" for name, size in results["mpy_bytes"].items()]
    lines += ["", "History of the lowest heap (by hand, not measured by this run):", ""]
    lines += [f"- {when}: {figure}" for when, figure in HEAP_HISTORY]
    if results.get("policy"):
        lines += ["", bench_policy.section(results["policy"])]
    for section in (frozen, NOTES):
        if section.exists():
            lines += ["", section.read_text().strip()]
    lines += ["", f"Machine: {results['machine']}", ""]
    return "\n".join(lines)


def lwa_share(summary: dict[str, Any]) -> float | None:
    """LwA token requests as a share of all requests of a simulation."""
    total = summary.get("requests") or 0
    return round(summary.get("requests_by_route", {}).get("token", 0) / total, 3) if total else None


def lwa_share_floor(summary: dict[str, Any]) -> float | None:
    """The least LwA share the same run could have had: one token per daily report.

    An access token lives an hour and the reports are a day apart, so every deviceStatus
    needs a token of its own even if every other request shared one.
    """
    total = summary.get("requests") or 0
    reports = summary.get("requests_by_route", {}).get("deviceStatus", 0)
    return round(reports / total, 3) if total else None


def speed(args: argparse.Namespace) -> dict[str, Any]:
    """The speed and scale figures: emulator, simulator profile, a year's requests, a fleet."""
    emulator_args = bench_emulator.parser().parse_args(["--storm", *map(str, args.storm)])
    print("emulator", file=sys.stderr)
    emulator = bench_emulator.run_all(emulator_args)
    print("simulator profile (365 days, 2 and 8 slots)", file=sys.stderr)
    profiles = [bench_sim.profile("micropython", 365, slots) for slots in (2, 8)]
    year = run_sim("micropython", 365)
    print(f"fleet: {args.fleet_devices} devices, {args.fleet_days} days", file=sys.stderr)
    fleet = simulate_fleet(FleetOptions(devices=args.fleet_devices, days=args.fleet_days))
    return {
        "emulator": emulator,
        "simulator_profile": profiles,
        "year_micropython": {
            key: year.get(key)
            for key in (
                "requests",
                "requests_by_route",
                "requests_per_order_cycle",
                "requests_per_device_day_steady",
                "orders_placed",
                "duplicate_orders",
                "stockout_days",
            )
        },  # fmt: skip
        "lwa_share_year": lwa_share(year),
        "lwa_share_floor_year": lwa_share_floor(year),
        "fleet": fleet,
    }


def speed_markdown(figures: dict[str, Any]) -> list[str]:
    """The speed and scale part of RESULTS.md."""
    emulator = figures["emulator"]
    throughput = emulator["throughput"]
    scale = emulator["scale"]
    two, eight = figures["simulator_profile"]
    year = figures["year_micropython"]
    fleet = figures["fleet"]
    lines = [
        f"| HTTP requests per order cycle, 365 days | {year['requests_per_order_cycle']} | <= 6 |",
        f"| LwA share of all requests, 365 days | {figures['lwa_share_year']} | <= 0.35 |",
        f"| LwA share floor of the same run (one token per daily report) | "
        f"{figures.get('lwa_share_floor_year')} | |",
        f"| simulator wall / firmware step, 365 days, 2 slots | {two['overhead']} | <= 1.5 |",
        f"| simulator wall / firmware step, 365 days, 8 slots | {eight['overhead']} | <= 1.5 |",
    ]
    for name in ("replenish_inprogress", "getOrderInfo", "deviceStatus"):
        lines.append(
            f"| emulator {name} requests/s vs bare uvicorn | "
            f"{throughput[name]['ratio_to_bare']}x | >= 0.5x |"
        )
    lines.append(
        f"| emulator getOrders page of 100 vs bare uvicorn (same body size) | "
        f"{throughput['getOrders_page100']['ratio_to_bare']}x | >= 0.25x |"
    )
    lines += instructions_markdown(emulator.get("instructions"))
    small, large = scale["orders"]
    for name in ("replenish_inprogress", "getOrderInfo", "clock_move", "getOrders_page100"):
        lines.append(
            f"| {name} cost at {large} / at {small} orders | {scale[name]['ratio']} | <= 1.5 |"
        )
    for storm in emulator["storm"]:
        p99 = "-" if storm["p99_s"] is None else f"{storm['p99_s']} s"  # None: none answered
        lines.append(
            f"| {storm['devices']} deviceStatus at the same moment (no spread: what the "
            f"firmware's report window avoids): p99, timeouts | {p99}, {storm['timeouts']} | |"
        )
    latency = fleet.get("latency", {})
    lines.append(
        f"| fleet of {fleet['devices']} for {fleet['days']} days: wall, p99, failures, "
        f"busiest report minute | {fleet['wall_seconds']} s, {latency.get('p99_s')} s, "
        f"{sum(latency.get('failures', {}).values())}, "
        f"{fleet['report_spread']['busiest_minute_reports']} | p99 <= 1 s, 0 |"
    )
    lines += ["", "SQL statements (transactions) per request, the second of two alike:", ""]
    lines += [
        f"- {name}: {c['statements']} ({c['transactions']})"
        for name, c in emulator["sql_per_request"].items()
    ]
    return lines


def instructions_markdown(counts: dict[str, Any] | None) -> list[str]:
    """Rows of instructions per request under cachegrind (None: valgrind was missing)."""
    if counts is None:
        return ["| emulator instructions per request vs bare uvicorn | not measured "
                "(valgrind not on PATH) | |"]  # fmt: skip
    rows = []
    for name, figures in counts.items():
        target = ">= 0.25x" if name == "getOrders_page100" else ">= 0.5x"
        rows.append(
            f"| emulator {name} instructions per request vs bare uvicorn (cachegrind, same "
            f"body size) | {figures['instructions'] / 1000:.0f}k vs "
            f"{figures['bare_instructions'] / 1000:.0f}k: {figures['ratio_to_bare']}x | {target} |"
        )
    return rows


FLEET_RUNS = "bench"
"""Where long fleet runs are committed: ``drsctl simulate --devices N --days D --json``
written to ``bench/fleet-<N>x<D>.json`` (too long for every ``make bench``)."""


def fleet_markdown(paths: list[Path]) -> list[str]:
    """The committed long fleet runs, one line each."""
    lines = []
    for path in paths:
        fleet = json.loads(path.read_text())
        latency = fleet.get("latency", {})
        lines.append(
            f"- `{path.name}`: {fleet['devices']} devices x {fleet['days']:g} days in "
            f"{fleet['wall_seconds']} s ({fleet['device_days_per_second']} device-days/s); "
            f"{fleet['requests']} requests ({fleet['requests_per_device_day']} per device-day), "
            f"peak minute {fleet['peak_minute_requests']}, busiest report minute "
            f"{fleet['report_spread']['busiest_minute_reports']}, latency p50 "
            f"{latency.get('p50_s')} s p99 {latency.get('p99_s')} s max {latency.get('max_s')} s, "
            f"failed requests {sum(latency.get('failures', {}).values())}, duplicate orders "
            f"{fleet['duplicate_orders']}"
        )
    return ["", "Long fleet runs:", "", *lines] if lines else []


def main(argv: list[str] | None = None) -> int:
    """Run every benchmark and write the results files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results.json"))
    parser.add_argument("--days", type=float, default=60)
    parser.add_argument("--fleet-devices", type=int, default=1000)
    parser.add_argument("--fleet-days", type=float, default=7)
    parser.add_argument("--storm", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--no-speed", action="store_true", help="skip the speed/scale figures")
    parser.add_argument(
        "--heap-only", action="store_true", help="print only the lowest heap; write no files"
    )
    args = parser.parse_args(argv)
    if args.heap_only:
        return heap_only(args.days)

    with tempfile.TemporaryDirectory() as tmp:
        sizes = compile_firmware(Path(tmp))
        code_bytes = code_heap_bytes(Path(tmp))
    print(f"mpy total: {sum(sizes.values())} bytes", file=sys.stderr)
    speeds = {}
    sims = {}
    for runtime in ("cpython", "micropython"):
        sims[runtime] = run_sim(runtime, args.days)
        speeds[runtime] = sims[runtime].get("device_days_per_second")
        print(f"{runtime}: {speeds[runtime]} device-days/s", file=sys.stderr)
    heap_k = lowest_heap(args.days, reference=sims["micropython"])
    print(f"lowest heap: {heap_k} KiB", file=sys.stderr)
    results = {
        "lowest_heapsize_kib": heap_k,
        "lowest_heapsize_bytes": parse_heap(f"{heap_k}k") if heap_k else None,
        "code_heap_bytes": code_bytes,
        "heap_beyond_code_bytes": (sims["micropython"].get("peak_mem_alloc") or 0) - code_bytes,
        "mpy_total_bytes": sum(sizes.values()),
        "mpy_bytes": sizes,
        "device_days_per_second": speeds,
        "simulation_60d_micropython": sims["micropython"],
        "simulation_60d_cpython": sims["cpython"],
        "policy": bench_policy.run_all(),
        "machine": f"{platform.machine()}, {platform.python_version()}",
    }
    if not args.no_speed:
        results["speed"] = speed(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    # make bench-frozen's figures from the same folder, else the committed ones
    frozen = args.out.with_name(FROZEN.name)
    text = markdown(results, frozen if frozen.exists() else FROZEN)
    args.out.with_name("RESULTS.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
