"""kill -9 on the real firmware process (issue 12, section 2, last point).

The firmware runs in its own process (the MicroPython unix binary by default) on a
flash folder, against the emulator over real HTTP. Each run is drawn from a seed:
when the power goes (between two passes, in the middle of a pass, or while a
request is held by a ``hang`` fault, with or without ``after``), for how long, and
the household's randomness; the device's own jitter is seeded from it too, so a
failing run replays. The process is killed with SIGKILL, the world and Amazon go on
without it, and it restarts on the same flash folder. The emulator's order book
says how many orders each episode got.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from drsctl.control_client import EmulatorControl
from drsctl.sim.consumption import SlotWorld
from drsctl.sim.harness import SimOptions, Simulation
from drsctl.sim.report import duplicate_orders

HOUR = 3600
MODES = ("between", "mid-tick", "hang", "hang-after")
HANG_ROUTES = ("token", "replenish", "getOrderInfo")
OFF_HOURS = (1, 6, 26, 40)
HORIZON_H = 5 * 24
_HOLD_WAIT_S = 10.0  # how long to wait for the held request to show up at the emulator


@dataclass
class KillRun:
    """One seeded run and its outcome."""

    seed: int
    mode: str
    route: str | None
    kill_hour: int
    off_h: int
    held: bool = False
    orders: int = 0
    duplicates: int = 0
    refilled: bool = False
    problems: list[str] = field(default_factory=list)


def _wait_for_hold(control: EmulatorControl) -> bool:
    """True once the emulator holds a request (polling: the hold is the event awaited)."""
    deadline = time.monotonic() + _HOLD_WAIT_S
    while time.monotonic() < deadline:
        if control.holding():
            return True
        time.sleep(0.005)
    return False


def kill_run(
    control: EmulatorControl,
    url: str,
    workdir: Path,
    seed: int,
    runtime: str = "micropython",
    mode: str | None = None,
    route: str | None = None,
    off_h: int | None = None,
) -> KillRun:
    """One run: an order episode with one kill -9 drawn from ``seed`` (``mode``,
    ``route`` and ``off_h`` fix what the seed would draw)."""
    rng = random.Random(seed)
    drawn_mode = rng.choice(MODES)
    drawn_route = rng.choice(HANG_ROUTES)
    drawn_off = rng.choice(OFF_HOURS)
    mode = mode or drawn_mode
    route = (route or drawn_route) if mode.startswith("hang") else None
    kill_hour = {"replenish": 1, "token": 1, "getOrderInfo": 2}.get(route or "", 0)
    if not kill_hour:
        kill_hour = rng.randrange(1, 48)
    run = KillRun(seed, mode, route, kill_hour, off_h or drawn_off)
    opts = SimOptions(
        runtime=runtime,
        slots=1,
        seed=seed,
        worlds=[SlotWorld("slot-1", daily_use=0.03, noise=0.0)],
        initial_levels=[0.09],
        delivery_days=1.0,
        lead_time_days=1.0,
        config_overrides={"jitter_seed": seed},
    )
    sim = Simulation(control, url, opts, workdir=workdir, serial=f"K9-{seed:05d}")
    sim.install()
    try:
        for hour in range(1, HORIZON_H + 1):
            if hour != kill_hour:
                sim.step()
                continue
            sim.advance_world(HOUR)
            if route:
                control.fault(route, "hang", after=mode == "hang-after")
            sim.device.send_tick(sim.now, sim.readings())
            if route:
                run.held = _wait_for_hold(control)
            elif mode == "between":
                sim.record(sim.device.read_events())
            sim.cut_power()  # SIGKILL: no flush, no finally
            control.clear_faults()
            control.release_hangs()
            for _ in range(run.off_h):
                sim.advance_world(HOUR)
            sim.device.start()
    finally:
        sim.close()
    orders = sim.orders()
    run.orders = len(orders)
    run.duplicates = duplicate_orders(orders, sim.timeline.refills)
    run.refilled = bool(sim.timeline.refills)
    if run.duplicates:
        run.problems.append(f"{run.duplicates} duplicate order(s)")
    if not run.refilled:
        run.problems.append("the slot never got its delivery (liveness)")
    if sim.timeline.crashes:
        run.problems.append(f"crashes: {sim.timeline.crashes[:2]}")
    return run
