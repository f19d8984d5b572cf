"""drsctl deploy when it must stop: foreign files, a provisioned board, a reset that beats
the close, a port that is no board. Each ends in one line and leaves things as they were."""

from __future__ import annotations

import errno
import json
import os
import pty
import threading
import tty
from collections.abc import Iterator
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

from host_tests.board.boardhelpers import device_config, wait_until_booted


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


def test_sources_in_the_folder_are_refused_too(tmp_path: Path) -> None:
    out = tmp_path / "copy-of-the-flash"  # names a bundle uses, but sources in drsagent/
    (out / "drsagent" / "hal").mkdir(parents=True)
    (out / "drsagent" / "hal" / "clock.py").write_text("# my edits\n")
    (out / "main.py").write_text("import drsagent\n")
    before = _tree(out)
    with pytest.raises(DeployError, match="holds 'drsagent/hal/clock.py', which is not part"):
        build_bundle(out)
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
    wait_until_booted(board, 2)  # reset out of the raw REPL: main.py runs again
    with SerialLink(board.port) as link:
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
    assert closing and not closing[0].is_open
    wait_until_booted(board, 2)  # the reset's fork holds no copy of the port any more
    SerialLink(board.port).close()  # not "busy": the lock went with the port


@pytest.fixture
def not_a_board() -> Iterator[tuple[str, list[int]]]:
    """A serial port whose far end answers what it is told to: nothing by default."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    fds = [master]
    yield os.ttyname(slave), fds
    for fd in (*fds, slave):
        try:
            os.close(fd)
        except OSError:
            pass


def test_cli_missing_port(tmp_path: Path) -> None:
    line = _one_error_line(_run("deploy", "--port", str(tmp_path / "ttyUSB9")))
    assert line.endswith("ttyUSB9: no such port (is the board plugged in and powered?)")


def test_cli_port_that_is_no_serial_port(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a tty\n")
    line = _one_error_line(_run("deploy", "--port", str(tmp_path / "notes.txt")))
    assert line.endswith("notes.txt is not a serial port")


def test_cli_busy_port(board: VirtualBoard) -> None:
    with SerialLink(board.port):
        line = _one_error_line(_run("deploy", "--port", board.port))
    assert "is busy: another program" in line


def test_cli_silent_port_is_no_board(not_a_board: tuple[str, list[int]]) -> None:
    port, _ = not_a_board
    line = _one_error_line(_run("deploy", "--port", port, "--timeout", "1"))
    assert line.endswith(
        f"{port}: no MicroPython REPL answered within 1 s "
        "(is it the board, running MicroPython? `drsctl flash` installs it)"
    )


def test_cli_board_that_goes_away_mid_deploy(not_a_board: tuple[str, list[int]]) -> None:
    port, fds = not_a_board

    def unplugged() -> None:  # it hears the first bytes, then the cable is pulled
        os.read(fds[0], 64)
        os.close(fds.pop())

    threading.Thread(target=unplugged, daemon=True).start()
    line = _one_error_line(_run("deploy", "--port", port, "--timeout", "1"))
    assert line.startswith(f"error: {port}: the device stopped answering: "), line
