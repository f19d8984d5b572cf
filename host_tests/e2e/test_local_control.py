"""The simulator's in-process control (clock and orders straight from the store) changes
nothing but the speed: the same run over the HTTP control API gives the same orders,
statuses, events and device requests, on both runtimes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from drsctl.control_client import ControlError, EmulatorControl
from drsctl.emulator.server import EmulatorThread
from drsctl.sim.harness import SimOptions, Simulation
from drsctl.sim.local_control import LocalControl

DAYS = 12


def _run(control: EmulatorControl, url: str, workdir: Path, runtime: str) -> dict[str, Any]:
    opts = SimOptions(runtime=runtime, days=DAYS, slots=2, seed=7, initial_levels=[0.3, 0.5])
    with Simulation(control, url, opts, workdir=workdir) as sim:
        sim.run()
        return {
            "orders": [
                (o["slot_id"], o["created_at"], o["status"], o["drs_status"], o["delivered_at"])
                for o in sim.orders()
            ],
            "events": [{k: v for k, v in e.items() if k != "eid"} for e in sim.timeline.events],
            "requests": [(r["t"], r["route"], r["status"]) for r in sim.requests()],
            "refills": sim.timeline.refills,
        }


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_in_process_control_gives_the_same_run(tmp_path: Path, runtime: str) -> None:
    runs = []
    for local in (False, True):
        with EmulatorThread(tmp_path / f"emu-{local}.sqlite3") as emu:
            make = (lambda: LocalControl(emu.url, emu.store)) if local else (
                lambda: EmulatorControl(emu.url))  # fmt: skip
            with make() as control:
                runs.append(_run(control, emu.url, tmp_path / f"devices-{local}", runtime))
    over_http, in_process = runs
    assert len(over_http["orders"]) >= 2 and over_http["refills"]
    assert in_process == over_http


def test_in_process_clock_refuses_what_the_control_api_refuses(tmp_path: Path) -> None:
    with EmulatorThread(tmp_path / "emu.sqlite3") as emu:
        with LocalControl(emu.url, emu.store) as local, EmulatorControl(emu.url) as remote:
            now = local.set_clock(2000000000)
            assert remote.now() == now
            for control in (local, remote):
                with pytest.raises(ControlError, match="backwards"):
                    control.set_clock(now - 1)
            assert local.orders() == remote.orders() == []
