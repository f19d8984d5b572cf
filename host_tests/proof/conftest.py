"""Fixtures for the proof campaign: a live emulator and devices on a fake flash."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from drsctl.control_client import EmulatorControl

from host_tests.proof.rig import DeviceRig, RigOptions


@pytest.fixture
def make_rig(emulator: tuple[str, EmulatorControl]) -> Callable[..., DeviceRig]:
    """Build a provisioned device (one slot) on a fresh fake flash; booted on first pass."""
    url, control = emulator
    serials = itertools.count(1)

    def build(**opts: object) -> DeviceRig:
        return DeviceRig(control, url, f"PROOF-{next(serials):04d}", RigOptions(**opts))  # type: ignore[arg-type]

    return build
