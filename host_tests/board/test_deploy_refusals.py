"""drsctl deploy when it must stop: foreign files, a provisioned board, a reset that beats
the close, a port that is no board. Each ends in one line and leaves things as they were."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import pytest
import serial.serialposix
from drsctl.board.deploy import DeployError, build_bundle, deploy
from drsctl.board.provision import SetupConsole
from drsctl.board.serial_link import SerialLink
from drsctl.board.virtual_board import VirtualBoard
from drsctl.cli import app
from typer.testing import CliRunner

from host_tests.board.boardhelpers import device_config, wait_for_boot


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def _one_error_line(result: Any) -> str:
    """The CLI's output when it failed: exactly one line, no traceback; returned."""
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def _provisioned(board: VirtualBoard) -> bytes:
    """Give the board a config.json (as provisioning does); return its bytes."""
    (board.flash / "config.json").write_text(json.dumps(device_config("http://127.0.0.1:9")))
    return (board.flash / "config.json").read_bytes()


def test_a_folder_with_foreign_files_is_refused_and_left_byte_for_byte(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    (out / "drsagent").mkdir(parents=True)
    (out / "drsagent" / "agent.mpy").write_bytes(b"an earlier bundle's module")
    (out / "notes.txt").write_text("my notes\n")
    before = _tree(out)
    line = _one_error_line(_run("deploy", "--bundle", str(out)))
    assert "holds 'notes.txt', which is not part of a bundle" in line
    assert _tree(out) == before


def test_an_earlier_bundle_is_replaced(tmp_path: Path) -> None:
    out = tmp_path / "b"
    build_bundle(out, config={"device": {"serial": "OLD"}})
    files = build_bundle(out)  # no config this time: the old one goes
    assert sorted(_tree(out)) == sorted(files)


def test_refused_deploy_resets_the_board_so_the_agent_runs_on(
    board: VirtualBoard, tmp_path: Path
) -> None:
    config = _provisioned(board)
    files = build_bundle(tmp_path / "b", config={"device": {"serial": "NEW"}})
    with SerialLink(board.port) as link:  # the agent answers before the deploy
        assert SetupConsole(link, timeout=15).request("status")["firmware"]
    with pytest.raises(DeployError, match="has config.json already"):
        deploy(board.port, tmp_path / "b", files, say=lambda line: None)
    assert (board.flash / "config.json").read_bytes() == config
    with SerialLink(board.port) as link:
        wait_for_boot(board, link, 2)  # reset out of the raw REPL: main.py runs again
        assert SetupConsole(link, timeout=15).request("status")["firmware"]


def test_the_port_is_released_when_the_reset_beats_the_close(
    board: VirtualBoard, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A board that resets drops off USB: mpremote's close fails clearing RTS/DTR."""
    update_rts = serial.serialposix.Serial._update_rts_state
    closing: list[serial.Serial] = []

    def board_gone(port: serial.Serial) -> None:
        if port._rts_state:  # pyserial raises RTS on open: that still works
            update_rts(port)
            return
        closing.append(port)  # whoever holds the transport keeps the port object alive
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(serial.serialposix.Serial, "_update_rts_state", board_gone)
    _provisioned(board)
    files = build_bundle(tmp_path / "b", config={"device": {"serial": "NEW"}})
    with pytest.raises(DeployError, match="has config.json already"):
        deploy(board.port, tmp_path / "b", files, say=lambda line: None)
    SerialLink(board.port).close()  # not "busy": the lock went with the port
    assert closing and not closing[0].is_open
