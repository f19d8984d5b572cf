"""Where a simulation's wall time goes: the firmware's own steps vs the harness around them.

One run of ``drsctl simulate`` (in this process, private emulator) with a stopwatch on
the device link (one tick: the firmware's step including its HTTP calls), on every
control call the harness makes to its emulator, and on the rest. The headline figure is
``overhead``: wall time / the firmware's own step time (1.0 = the harness costs nothing).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drsctl.firmware import compiled_firmware
from drsctl.sim.harness import SimOptions, Simulation, emulator_for


class Stopwatch:
    """Seconds and calls per label."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, label: str, func: Callable[..., Any]) -> Callable[..., Any]:
        """``func`` with its time and calls counted under ``label``."""

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - t0
                self.calls[label] += 1

        return timed


_CONTROL_CALLS = ("set_clock", "orders", "requests", "now", "advance")


def profile(runtime: str, days: float, slots: int) -> dict[str, Any]:
    """One simulation with stopwatches; the split of its wall time."""
    watch = Stopwatch()
    t_compile = time.perf_counter()
    if runtime == "micropython":
        compiled_firmware()  # once per process: kept out of the timed region
    compile_s = time.perf_counter() - t_compile
    opts = SimOptions(runtime=runtime, days=days, slots=slots)
    with tempfile.TemporaryDirectory(prefix="drsctl-bench-sim-") as tmp:
        with emulator_for(None, Path(tmp)) as (url, control, ca_pem):
            with Simulation(control, url, opts, workdir=Path(tmp), ca_pem=ca_pem) as sim:
                for name in _CONTROL_CALLS:
                    setattr(control, name, watch.wrap(f"control.{name}", getattr(control, name)))
                sim.device.tick = watch.wrap("firmware_step", sim.device.tick)
                t0 = time.perf_counter()
                sim.run()
                wall = time.perf_counter() - t0
    step = watch.seconds["firmware_step"]
    control_s = sum(s for k, s in watch.seconds.items() if k.startswith("control."))
    ticks = watch.calls["firmware_step"]
    return {
        "runtime": runtime,
        "days": days,
        "slots": slots,
        "wall_s": round(wall, 2),
        "compile_s_outside": round(compile_s, 2),
        "firmware_step_s": round(step, 2),
        "overhead": round(wall / step, 2) if step else None,
        "control_share": round(control_s / wall, 3) if wall else None,
        "control_calls_per_tick": round(
            sum(c for k, c in watch.calls.items() if k.startswith("control.")) / max(ticks, 1), 3
        ),
        "control_ms_per_call": {
            k.removeprefix("control."): round(watch.seconds[k] / watch.calls[k] * 1000, 3)
            for k in sorted(watch.calls)
            if k.startswith("control.")
        },
        "step_ms_per_tick": round(step / max(ticks, 1) * 1000, 3),
    }


def main(argv: list[str] | None = None) -> int:
    """Profile runs and print them as JSON."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--days", type=float, default=365)
    p.add_argument("--runtime", choices=("cpython", "micropython"), default="micropython")
    p.add_argument("--slots", type=int, nargs="*", default=[2, 8])
    args = p.parse_args(argv)
    runs = [profile(args.runtime, args.days, n) for n in args.slots]
    print(json.dumps(runs, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
