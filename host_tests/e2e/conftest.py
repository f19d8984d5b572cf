"""Fixtures for end-to-end scenarios: a live emulator and a simulated device."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from drsctl.control_client import EmulatorControl
from drsctl.sim.consumption import SlotWorld
from drsctl.sim.harness import SimOptions, Simulation

RUNTIMES = ["cpython", "micropython"]


@pytest.fixture(params=RUNTIMES)
def runtime(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_sim(
    emulator: tuple[str, EmulatorControl], tmp_path: Path, runtime: str
) -> Iterator[Callable[..., Simulation]]:
    """Build a started simulation: one device, fresh flash, chosen slot worlds; the
    device has taken one reading at the start (installed=False: it has not)."""
    url, control = emulator
    sims: list[Simulation] = []

    def build(
        levels: list[float], daily_use: list[float], installed: bool = True, **opts: object
    ) -> Simulation:
        worlds = [
            SlotWorld(slot_id=f"slot-{i + 1}", daily_use=use, noise=0.0)
            for i, use in enumerate(daily_use)
        ]
        options = SimOptions(
            runtime=runtime,
            slots=len(worlds),
            worlds=worlds,
            initial_levels=levels,
            **opts,  # type: ignore[arg-type]
        )
        sim = Simulation(control, url, options, workdir=tmp_path / "devices")
        sims.append(sim)
        if installed:
            sim.install()
        else:
            sim.device.start()
        return sim

    yield build
    for sim in sims:
        sim.close()
