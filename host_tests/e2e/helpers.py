"""Small helpers shared by the end-to-end scenarios."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from drsctl.sim.harness import Simulation

DRSCTL = str(Path(sys.executable).with_name("drsctl"))


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


@contextlib.contextmanager
def running_emulator(*args: str, cwd: Path | None = None) -> Iterator[tuple[str, str]]:
    """``drsctl emulator --port 0 ARGS`` as a user starts it; yield (URL, its banner)."""
    proc = subprocess.Popen(
        [DRSCTL, "emulator", "--port", "0", *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=cwd,
    )
    try:
        assert proc.stderr is not None
        banner = proc.stderr.readline()  # printed once the port is bound and listening
        match = re.search(r"(https?://127\.0\.0\.1:(\d+))", banner)
        assert match, banner
        assert match.group(2) != "0", "the banner names the port really bound"
        yield match.group(1), banner
    finally:
        proc.terminate()
        proc.wait(timeout=30)
