"""The README's examples run as written, against a fresh emulator."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from host_tests.e2e.helpers import DRSCTL, running_emulator

README = Path(__file__).resolve().parents[2] / "README.md"


def block_after(marker: str) -> str:
    """The fenced code block that follows the HTML comment starting with ``marker``."""
    text = README.read_text()
    found = re.search(re.escape(marker) + r".*?-->\n```\w+\n(.*?)```", text, re.S)
    assert found, f"README has no block after {marker!r}"
    return found.group(1)


def shell_env() -> dict[str, str]:
    """A shell with the venv active, as the README asks."""
    return {**os.environ, "PATH": f"{Path(DRSCTL).parent}{os.pathsep}{os.environ['PATH']}"}


def test_back_office_walkthrough_runs_in_order_against_a_fresh_emulator(tmp_path: Path) -> None:
    script = block_after("<!-- back-office walkthrough")
    assert "http://127.0.0.1:8080" in script
    with running_emulator("--db", str(tmp_path / "emulator.sqlite3")) as (url, _):
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script.replace("http://127.0.0.1:8080", url)],
            cwd=tmp_path,
            env=shell_env(),
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    order_ids = set(re.findall(r"\d{3}-\d{7}-\d{7}", done.stdout))
    assert len(order_ids) == 1, "one order placed, listed, shown and shipped"
    (order_id,) = order_ids
    assert "Unshipped" in done.stdout, "listed before it shipped"
    assert f"Shipment confirmed for order {order_id}" in done.stdout
    assert "Traceback" not in done.stderr


def test_python_amazon_sp_api_example_runs_against_the_tls_emulator(tmp_path: Path) -> None:
    example = block_after("<!-- python-amazon-sp-api example")
    with running_emulator("--tls", "--db", "emulator.sqlite3", cwd=tmp_path) as (url, _):
        placed = subprocess.run(
            [
                DRSCTL,
                "place-order",
                "--emulator",
                url,
                "--ca-file",
                "tls/ca.pem",
                "--spapi-config",
                "spapi.json",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert placed.returncode == 0, placed.stderr
        done = subprocess.run(
            [sys.executable, "-c", example.replace("https://127.0.0.1:8443", url)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [placed.stdout.strip(), "Unshipped"]
