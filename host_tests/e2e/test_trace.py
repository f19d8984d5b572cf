"""``drsctl simulate --trace``: the real firmware on a household's recorded use, each
order delivered after its own lead time, on both runtimes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from host_tests.e2e.helpers import DRSCTL

LEADS_H = [30, 60, 42]


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DRSCTL, *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def write_trace(tmp_path: Path, days: int = 14, daily: float = 0.12) -> Path:
    """Two slots: one used `daily` in daytime hours, one barely used; some hours absent."""
    lines = ["hour,slot,used_fraction"]
    for hour in range(days * 24):
        if 7 <= hour % 24 < 23:
            lines.append(f"{hour},ink,{daily / 16:.6f}")
        if hour % 24 == 12:
            lines.append(f"{hour},paper,0.004")
    path = tmp_path / "use.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_a_trace_with_lead_times_end_to_end(runtime: str, tmp_path: Path) -> None:
    trace = write_trace(tmp_path)
    leads = tmp_path / "leads.json"
    leads.write_text(json.dumps({"lead_time_hours": {"ink": LEADS_H, "paper": [24]}}))
    plot = tmp_path / "levels.png"
    done = run(
        "simulate", "--runtime", runtime, "--trace", str(trace), "--lead-times", str(leads),
        "--json", "--plot", str(plot),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["days"] == 14 and summary["slots"] == 2  # the trace's length and slots
    ink = [o for o in summary["orders"] if o["slot"] == "ink"]
    assert len(ink) >= 2
    delivered = [o for o in ink if o["delivered_at"]]
    took = [(o["delivered_at"] - o["created_at"]) / 3600 for o in delivered]
    # the n-th order took the n-th lead time (the list starts over when it runs out)
    assert took == [LEADS_H[n % len(LEADS_H)] for n in range(len(took))]
    assert summary["duplicate_orders"] == 0
    assert summary["stockout_days"] == summary["stockout_hours"] == 0
    assert 0 <= summary["stock_left_mean"] <= summary["stock_left_max"] < 1
    assert summary["cannot_stock"] == []
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_container_shorter_than_its_deliveries_is_reported(tmp_path: Path) -> None:
    trace = write_trace(tmp_path, days=24, daily=0.3)  # a container lasts ~3 days
    done = run("simulate", "--trace", str(trace), "--delivery-dist", "fixed:4", "--story")
    assert done.returncode == 0, done.stderr
    assert "CANNOT BE KEPT STOCKED" in done.stdout and "bigger container" in done.stdout
    assert "cannot stock       ink" in done.stdout


@pytest.mark.parametrize(
    ("files", "args", "message"),
    [
        ({"t.csv": "hour,used\n"}, ["--trace", "t.csv"], "--trace: "),
        ({"t.csv": "hour,used_fraction\n1,2\n"}, ["--trace", "t.csv"], "t.csv:2: used_fraction"),
        ({}, ["--trace", "none.csv"], "cannot read"),
        ({"l.json": "[1]"}, ["--lead-times", "l.json"], "--lead-times: "),
        ({"l.json": '{"lead_time_hours": [0]}'}, ["--lead-times", "l.json"], ">= 1"),
        ({}, ["--delivery-dist", "normal:3"], "--delivery-dist: "),
        (
            {"l.json": '{"lead_time_hours": [24]}'},
            ["--lead-times", "l.json", "--delivery-dist", "fixed:2"],
            "not both",
        ),
        (
            {"t.csv": "hour,used_fraction\n1,0.1\n", "l.json": '{"x": [24]}'},
            ["--trace", "t.csv", "--lead-times", "l.json"],
            "slot 'x' is not simulated",
        ),
    ],
)
def test_bad_trace_and_lead_time_files_are_one_line_usage_errors(
    tmp_path: Path, files: dict[str, str], args: list[str], message: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    args = [str(tmp_path / a) if a in files or a.endswith((".csv", ".json")) else a for a in args]
    done = run("simulate", *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
