"""Fixtures for the serial side: a virtual board with the agent on its flash, an emulator."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from drsctl.board.deploy import build_bundle
from drsctl.board.provision import SetupConsole
from drsctl.board.serial_link import SerialLink
from drsctl.board.virtual_board import VirtualBoard
from drsctl.control_client import EmulatorControl

from host_tests.board.boardhelpers import EMPTY_RAW, SERIAL, WIFI, control_call, write_bench


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The device file tree, built once (what deploy would copy)."""
    out = tmp_path_factory.mktemp("bundle") / "tree"
    build_bundle(out)
    return out


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    path = tmp_path / "bench.json"
    write_bench(path, EMPTY_RAW)
    return path


@pytest.fixture
def flash(tmp_path: Path, bundle: Path) -> Path:
    """A flash folder holding the agent (as after a deploy), nothing provisioned."""
    folder = tmp_path / "flash"
    shutil.copytree(bundle, folder)
    return folder


@pytest.fixture
def board(flash: Path, bench: Path) -> Iterator[VirtualBoard]:
    with VirtualBoard(flash, wifi=WIFI, bench=bench) as vb:
        yield vb


@pytest.fixture
def link(board: VirtualBoard) -> Iterator[SerialLink]:
    lines: list[str] = []
    with SerialLink(board.port, on_log=lines.append) as serial_link:
        serial_link.log_lines = lines  # type: ignore[attr-defined]
        yield serial_link


@pytest.fixture
def console(link: SerialLink) -> SetupConsole:
    return SetupConsole(link, timeout=15)


@pytest.fixture
def registered(emulator: tuple[str, EmulatorControl]) -> dict[str, Any]:
    """An LwA client, a customer and the device registered at the emulator; a fresh code."""
    url, control = emulator
    client = control_call(url, "/clients", {})
    customer = control_call(url, "/customers", {"name": "Bench Customer"})
    device = control_call(
        url,
        "/devices",
        {
            "customer_id": customer["customer_id"],
            "client_id": client["client_id"],
            "serial": SERIAL,
            "model": "acme-x1",
            "slots": [{"id": "toner"}],
            "test_orders": True,
        },
    )
    return {"url": url, "control": control, **client, **device}


@pytest.fixture
def new_code(registered: dict[str, Any]) -> Callable[[], dict[str, str]]:
    def make() -> dict[str, str]:
        return control_call(registered["url"], "/authcodes", {"device_id": registered["device_id"]})

    return make
