"""A fleet on one clock and one emulator: every device reports daily at its own time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from drsctl.control_client import EmulatorControl
from drsctl.sim.fleet import FleetOptions, phase_of, simulate_fleet

pytestmark = pytest.mark.e2e


def _check(summary: dict, devices: int, days: int) -> None:
    assert summary["crashes"] == 0
    assert summary["duplicate_orders"] == 0
    assert summary["net_errors"] == {}
    assert summary["orders_placed"] > 0
    # one deviceStatus per device and day (the first right after boot)
    reports = summary["load_by_route"]["deviceStatus"]["requests"]
    assert devices * days <= reports <= devices * (days + 1)
    spread = summary["report_spread"]
    assert spread["busiest_minute_reports"] <= 2  # not the whole fleet in one minute
    daily = set(spread["reports_by_hour_utc"]) - {0}  # hour 0: the first report after boot
    assert daily <= {3, 4, 5, 6, 7}  # 03:00 + each serial's offset (4 h), next hourly pass
    assert len(daily) >= 2  # spread by serial, not all at 03:00


def test_fleet_in_process(emulator: tuple[str, EmulatorControl], tmp_path: Path) -> None:
    url, _ = emulator
    opts = FleetOptions(devices=8, days=3, in_process=True, seed=2)
    summary = simulate_fleet(opts, emulator_url=url, workdir=tmp_path)
    assert summary["in_process"] is True
    _check(summary, 8, 3)
    assert summary["latency"]["requests"] == summary["requests"]
    assert summary["latency"]["failures"] == {}


@pytest.mark.micropython
def test_fleet_of_micropython_devices(emulator: tuple[str, EmulatorControl], tmp_path: Path):
    url, _ = emulator
    opts = FleetOptions(devices=3, days=3, runtime="micropython", seed=2)
    summary = simulate_fleet(opts, emulator_url=url, workdir=tmp_path)
    assert summary["in_process"] is False
    _check(summary, 3, 3)


def test_device_phases_are_stable_whole_minutes() -> None:
    phases = [phase_of(f"FLEET-{n:06d}", 3600) for n in range(600)]
    assert phases == [phase_of(f"FLEET-{n:06d}", 3600) for n in range(600)]
    assert all(p % 60 == 0 and 0 <= p < 3600 for p in phases)
    assert len(set(phases)) == 60  # every minute of the hour has devices


def test_simulate_devices_prints_amazons_view_and_plots_the_load(tmp_path: Path) -> None:
    from host_tests.e2e.test_cli import run

    plot = tmp_path / "load"
    done = run("simulate", "--devices", "4", "--days", "2", "--json", "--plot", str(plot))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["devices"] == 4 and summary["duplicate_orders"] == 0
    assert summary["load_by_route"]["deviceStatus"]["requests"] >= 8
    assert summary["plot"] == str(plot.with_suffix(".png"))
    assert plot.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("args", "option"),
    [(["--devices", "0"], "--devices"), (["--devices", "3", "--heap", "64k"], "--heap"),
     (["--devices", "3", "--story"], "--story")],
)  # fmt: skip
def test_simulate_devices_refuses_single_device_options(args: list[str], option: str) -> None:
    from host_tests.e2e.test_cli import run

    done = run("simulate", *args)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and option in done.stderr and "Traceback" not in done.stderr
