"""Small helpers shared by the end-to-end scenarios."""

from __future__ import annotations

import json
from collections.abc import Callable

from drsctl.sim.harness import Simulation


def state_of(sim: Simulation) -> dict:
    """The agent's state as it is on the device's flash right now."""
    return json.loads((sim.flash / "state.json").read_text())


def events_named(sim: Simulation, name: str) -> list[dict]:
    return [e for e in sim.timeline.events if e.get("ev") == name]


def run_until(sim: Simulation, done: Callable[[], bool], max_ticks: int) -> int:
    """Tick until ``done()`` holds; fail the test if it never does."""
    for n in range(1, max_ticks + 1):
        sim.step()
        if done():
            return n
    raise AssertionError(f"condition not reached in {max_ticks} ticks")
