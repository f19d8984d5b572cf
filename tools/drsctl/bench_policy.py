"""Policy benchmark: the firmware's replenishment policy on seeded year-long traces.

For each trace of :data:`drsctl.sim.traces.BENCHMARK_TRACES` the real firmware runs a
simulated year against the emulator (lead times varying per order, the device
configured with the default ``lead_time_days``), and the baselines of
:mod:`drsctl.sim.baselines` run on the same use and lead times. Per trace and policy:
stockout days, orders, duplicates, mean and max stock left when a new container went
in, requests (firmware only). Each target the firmware misses is called infeasible on
a trace where the zero-stockout bound misses it too, else our shortfall.
``python -m drsctl.bench_policy`` prints the table (``--update DIR`` writes it into the
committed bench results there, leaving the other sections as they are); ``make bench``
adds it to the committed results.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drsctl.sim import baselines
from drsctl.sim.harness import SimOptions, Simulation, emulator_for, wall_clock
from drsctl.sim.report import duplicate_orders
from drsctl.sim.traces import (
    BENCHMARK_TRACES,
    DEFAULT_SLOT,
    HOURS_PER_DAY,
    Trace,
    TraceWorld,
    generate,
)

START_LEVEL = 0.8
NOMINAL_LEAD_DAYS = 3.0  # the agent's default lead_time_days: the textbook's nominal lead time


def run_firmware(trace: Trace, runtime: str = "cpython", seed: int = 1) -> baselines.Outcome:
    """The real firmware on ``trace`` (one slot) against a private emulator.

    The device keeps the agent's default ``lead_time_days``, as a maker would.
    """
    use = trace.use[DEFAULT_SLOT]
    with tempfile.TemporaryDirectory(prefix="drsctl-policy-") as tmp:
        workdir = Path(tmp)
        with emulator_for(None, workdir) as (url, control, _):
            opts = SimOptions(
                runtime=runtime,
                days=len(use) / HOURS_PER_DAY,
                slots=1,
                seed=seed,
                lead_time_days=None,
                initial_levels=[START_LEVEL],
                lead_time_hours=trace.lead_time_hours,
            )
            world = TraceWorld(DEFAULT_SLOT, use, opts.start, trace.sensor_noise, trace.glitch_rate)
            opts.worlds = [world]
            with Simulation(control, url, opts, workdir) as sim:
                sim.run()
            if sim.timeline.crashes:  # figures of a broken run would flatter it
                crash = sim.timeline.crashes[-1]
                raise RuntimeError(f"{trace.name}: the firmware crashed: {crash}")
            orders = sim.orders()
            return baselines.Outcome(
                orders=len(orders),
                stockout_hours=len(world.stockout_hours),
                stockout_days=len(world.stockout_days),
                stock_left=world.stock_left,
                duplicates=duplicate_orders(orders, sim.timeline.refills),
                requests=len(sim.requests()),
                cannot_stock=any(e.get("ev") == "cannot_stock" for e in sim.timeline.events),
            )


def _row(outcome: baselines.Outcome) -> dict[str, Any]:
    return {
        "stockout_days": outcome.stockout_days,
        "stockout_hours": outcome.stockout_hours,
        "orders": outcome.orders,
        "duplicates": outcome.duplicates,
        "stock_left_mean": round(outcome.stock_left_mean, 3),
        "stock_left_max": round(outcome.stock_left_max, 3),
        "requests": outcome.requests,
        "cannot_stock_reported": outcome.cannot_stock,
    }


def run_all(seed: int = 1, runtime: str = "cpython", names: list[str] | None = None) -> dict:
    """Every benchmark trace (or those named) -> {trace: {policy: figures}}."""
    results: dict[str, Any] = {}
    for spec in BENCHMARK_TRACES:
        if names and spec.name not in names:
            continue
        trace = generate(spec, seed)
        use = trace.use[DEFAULT_SLOT]
        leads = trace.lead_time_hours[DEFAULT_SLOT]
        began = wall_clock()
        firmware = run_firmware(trace, runtime, seed)
        print(f"{spec.name}: {wall_clock() - began:.0f} s", file=sys.stderr)
        results[spec.name] = {
            "about": trace.about,
            "lead_days": list(spec.lead_days),
            "firmware": _row(firmware),
            "fixed_threshold_20": _row(
                baselines.run(baselines.fixed_threshold(0.2), use, leads, START_LEVEL, seed)
            ),
            "textbook_reorder_point": _row(
                baselines.run(
                    baselines.reorder_point(NOMINAL_LEAD_DAYS), use, leads, START_LEVEL, seed
                )
            ),
            "zero_stockout_bound": _row(
                baselines.run(
                    baselines.zero_stockout_bound(use, spec.lead_days[1]),
                    use,
                    leads,
                    START_LEVEL,
                    seed,
                )
            ),
        }
    return results


POLICIES = (
    ("firmware", "firmware"),
    ("fixed_threshold_20", "fixed 20 %"),
    ("textbook_reorder_point", "textbook ROP"),
    ("zero_stockout_bound", "zero-stockout bound"),
)

# The targets: whether a policy's row meets each, given the trace's textbook row.
TARGETS: dict[str, Callable[[dict[str, Any], dict[str, Any]], bool]] = {
    "0 stockout days": lambda row, _textbook: row["stockout_days"] == 0,
    "mean stock left at the refill <= 20 %": lambda row, _textbook: row["stock_left_mean"] <= 0.2,
    "orders <= textbook + 10 %": lambda row, textbook: row["orders"] <= textbook["orders"] * 1.1,
    "0 duplicates": lambda row, _textbook: row["duplicates"] == 0,
}


HEADING = "## Replenishment policy on year-long traces"
INTRO = (
    "`python -m drsctl.bench_policy`: the firmware (CPython runtime, real emulator) for a "
    "simulated year per seeded trace, lead times drawn per order (1-7 days; 3-7 for the fast "
    "consumers), the device left at the default `lead_time_days` (3), starting at 80 %. The "
    "baselines run on the same use and lead times in a model of the same world, seeing the "
    "true level: a fixed threshold (order at 20 %), a textbook reorder point (lead-time "
    "demand + 1.65 sigma over the last 28 days, nominal lead time 3 days) and the "
    "zero-stockout bound (knows the use to come, not the next lead time, and orders at the "
    "use of the longest delivery, 7 days, plus 8 hours for the household to put it in: the "
    "least stock that never runs dry here). Stock left: the true level when the household "
    "put the new container in. A target the firmware misses is infeasible on a trace where "
    "the bound misses it too; the orders target is infeasible where the textbook runs dry "
    "(it orders too little to be a fair bar)."
)


def section(results: dict[str, Any]) -> str:
    """The policy section of the committed RESULTS.md: heading, intro, table, targets."""
    return f"{HEADING}\n\n{INTRO}\n\n{markdown(results)}"


def update_committed(results: dict[str, Any], bench_dir: Path) -> None:
    """Put ``results`` into the committed bench files in ``bench_dir``.

    That is results.json and the policy section of RESULTS.md; every other figure stays
    as it is. ValueError when a file is missing or has no policy section.
    """
    json_path = bench_dir / "results.json"
    md_path = bench_dir / "RESULTS.md"
    try:
        committed = json.loads(json_path.read_text())
        text = md_path.read_text()
    except (OSError, ValueError) as e:
        raise ValueError(f"{bench_dir}: cannot read the committed bench files: {e}") from None
    start = text.find(HEADING)
    # the section ends at the next section (bench-frozen's, the notes) or the last line
    ends = [text.find(mark, start + 1) for mark in ("\n## ", "\nMachine: ")] if start >= 0 else []
    end = min((at for at in ends if at >= 0), default=-1)
    if start < 0 or end < 0:
        raise ValueError(f"{md_path}: no policy section to replace")
    committed["policy"] = results
    json_path.write_text(json.dumps(committed, indent=2) + "\n")
    md_path.write_text(text[:start] + section(results) + "\n" + text[end:])


def markdown(results: dict[str, Any]) -> str:
    """The results as Markdown: one row per trace and policy, then the targets."""
    lines = [
        "| trace | policy | stockout days | orders | duplicates | stock left mean"
        " | stock left max | requests |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, per_policy in results.items():
        for key, label in POLICIES:
            row = per_policy[key]
            requests = "" if row["requests"] is None else row["requests"]
            lines.append(
                f"| {name} | {label} | {row['stockout_days']} | {row['orders']}"
                f" | {row['duplicates']} | {row['stock_left_mean']:.0%}"
                f" | {row['stock_left_max']:.0%} | {requests} |"
            )
    lines += ["", "Targets (firmware):", ""]
    lines += [f"- {line}" for line in target_report(results)]
    return "\n".join(lines)


def target_report(results: dict[str, Any]) -> list[str]:
    """One line per target: met on every trace, or where it is missed.

    A miss is infeasible where the zero-stockout bound misses the target too, else it is
    our shortfall.
    """
    lines = []
    for target, met in TARGETS.items():
        infeasible, shortfall = [], []
        for name, row in results.items():
            firmware = row["firmware"]
            if firmware["cannot_stock_reported"]:
                continue  # "cannot be done": reported instead (its own line below)
            textbook = row["textbook_reorder_point"]
            if not met(firmware, textbook):
                bound_meets = met(row["zero_stockout_bound"], textbook)
                (shortfall if bound_meets else infeasible).append(name)
        if not infeasible and not shortfall:
            lines.append(f"{target}: met on every trace")
            continue
        parts = []
        if shortfall:
            parts.append(f"our shortfall on {', '.join(shortfall)} (the bound meets it)")
        if infeasible:
            parts.append(f"infeasible on {', '.join(infeasible)} (the bound misses it too)")
        lines.append(f"{target}: missed: " + "; ".join(parts))
    reported = [name for name, row in results.items() if row["firmware"]["cannot_stock_reported"]]
    lines.append(f"reported as cannot be kept stocked: {', '.join(reported) or 'none'}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print (or write) the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runtime", choices=("cpython", "micropython"), default="cpython")
    parser.add_argument("--trace", action="append", help="only this trace (repeatable)")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument(
        "--update",
        type=Path,
        metavar="DIR",
        help="write the results into the committed bench files in DIR (e.g. bench)",
    )
    args = parser.parse_args(argv)
    results = run_all(args.seed, args.runtime, args.trace)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    if args.update:
        try:
            update_committed(results, args.update)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
