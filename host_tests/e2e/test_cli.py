"""The ``drsctl`` command as a user runs it: real processes, real ports."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

DRSCTL = str(Path(sys.executable).with_name("drsctl"))


def run(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DRSCTL, *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_simulate_json_summary_and_plot(runtime: str, tmp_path: Path) -> None:
    plot = tmp_path / "levels.png"
    done = run("simulate", "--runtime", runtime, "--days", "12", "--json", "--plot", str(plot))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    for key in ("orders_placed", "duplicate_orders", "stockout_days", "requests", "runtime"):
        assert key in summary
    assert summary["runtime"] == runtime
    assert summary["orders_placed"] >= 1
    assert summary["duplicate_orders"] == 0
    assert summary["stockout_days"] == 0
    assert summary["requests"] == sum(summary["requests_by_route"].values()) > 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simulate_story_is_readable() -> None:
    done = run("simulate", "--days", "12", "--story")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any("order placed (STANDARD_ORDER_PLACED)" in line for line in lines)
    assert any("order delivered" in line for line in lines)
    assert any("re-armed" in line for line in lines)
    assert "duplicate orders   0" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--runtime", "jython"], "--runtime"),
        (["--runtime", "cpython", "--heap", "64k"], "--heap"),
        (["--runtime", "micropython", "--heap", "lots"], "--heap"),
        (["--days", "0"], "--days"),
        (["--slots", "9"], "--slots"),
    ],
)
def test_simulate_rejects_bad_options_clearly(args: list[str], message: str) -> None:
    done = run("simulate", *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_emulator_command_serves_until_stopped(tmp_path: Path) -> None:
    port = _free_port()
    db = tmp_path / "amazon.sqlite3"
    proc = subprocess.Popen(
        [DRSCTL, "emulator", "--port", str(port), "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:  # wait for the port to open (bounded), then use it
            try:
                clock = httpx.get(url + "/_emulator/clock").json()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "emulator did not start"
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                time.sleep(0.05)
        assert clock["now"] > 0
        moved = httpx.post(url + "/_emulator/clock", json={"advance": 3600}).json()
        assert moved["now"] == clock["now"] + 3600
        assert db.exists()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
