"""Fixtures shared by every test folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from drsctl.control_client import EmulatorControl
from drsctl.emulator.server import EmulatorThread


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[tuple[str, EmulatorControl]]:
    """A fresh emulator on a free loopback port: its URL and a control client."""
    with EmulatorThread(tmp_path / "emu.sqlite3") as emu:
        with EmulatorControl(emu.url) as control:
            yield emu.url, control
