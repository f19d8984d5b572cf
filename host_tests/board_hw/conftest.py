"""Runs board scenarios (MicroPython-compatible modules of check_* functions) under
CPython and under the MicroPython unix binary, with the current directory as the
flash root in both."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "firmware"))
sys.path.insert(0, str(HERE))

from fwhelpers import FIRMWARE, MICROPYTHON  # noqa: E402


@pytest.fixture(params=["cpython", "micropython"])
def run_scenario(request, tmp_path, monkeypatch) -> Callable[[str, str], None]:
    """run_scenario(module, name): call module.name() in the runtime of the param."""
    runtime = request.param
    if runtime == "micropython" and not MICROPYTHON.exists():
        pytest.skip("MicroPython unix binary not installed")
    monkeypatch.chdir(tmp_path)

    def run(module: str, name: str) -> None:
        if runtime == "cpython":
            getattr(importlib.import_module(module), name)()
            return
        env = dict(os.environ, MICROPYPATH=f"{FIRMWARE}:{HERE}")
        code = f"import {module}\n{module}.{name}()\nprint('ok')\n"
        p = subprocess.run(
            [str(MICROPYTHON), "-c", code],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if p.returncode != 0 or p.stdout.strip() != "ok":
            pytest.fail(f"micropython: {name} failed\n{p.stdout}\n{p.stderr}")

    return run
