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
from drsctl.firmware import firmware_dir, micropython_binary

HERE = Path(__file__).resolve().parent
FIRMWARE = firmware_dir()
sys.path.insert(0, str(FIRMWARE))  # drsagent, as on the device
sys.path.insert(0, str(HERE))  # the scenario modules and their fakes


@pytest.fixture(params=["cpython", "micropython"])
def run_scenario(request, tmp_path, monkeypatch) -> Callable[[str, str], None]:
    """run_scenario(module, name): call module.name() in the runtime of the param."""
    runtime = request.param
    micropython = None
    if runtime == "micropython":
        try:
            micropython = micropython_binary()
        except FileNotFoundError:
            pytest.skip("MicroPython unix binary not installed")
    monkeypatch.chdir(tmp_path)

    def run(module: str, name: str) -> None:
        if runtime == "cpython":
            getattr(importlib.import_module(module), name)()
            return
        env = dict(os.environ, MICROPYPATH=f"{FIRMWARE}:{HERE}")
        code = f"import {module}\n{module}.{name}()\nprint('ok')\n"
        p = subprocess.run(
            [micropython, "-c", code],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if p.returncode != 0 or p.stdout.strip() != "ok":
            pytest.fail(f"micropython: {name} failed\n{p.stdout}\n{p.stderr}")

    return run
