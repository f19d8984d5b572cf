"""drsctl virtual-board: the port line, mpremote against it, restarts, a clean Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from drsctl.board.provision import SetupConsole
from drsctl.board.serial_link import SerialLink
from drsctl.board.virtual_board import VirtualBoard

from host_tests.board.boardhelpers import wait_for_boot


def _mpremote(port: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "mpremote", "connect", port, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_cli_prints_the_port_first_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("drsctl")), "virtual-board", "--flash", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = process.stdout.readline()
        assert first.startswith("port: /dev/pts/")
        port = first.split()[1]
        assert "hello" in _mpremote(port, "resume", "exec", "print('hello')")
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "Traceback" not in stderr


def test_mpremote_soft_reset_keeps_the_port(tmp_path: Path) -> None:
    with VirtualBoard(tmp_path) as board:
        assert "1" in _mpremote(board.port, "exec", "print(1)")  # soft reset ends the process
        assert "2" in _mpremote(board.port, "exec", "print(2)")  # ... and it came back
        assert board.boots >= 2
        _mpremote(board.port, "resume", "fs", "cp", str(Path(__file__)), ":copied.py")
        assert (tmp_path / "copied.py").read_bytes() == Path(__file__).read_bytes()


def test_reset_boots_main_py_and_mpremote_interrupts_it(flash: Path) -> None:
    with VirtualBoard(flash) as board:
        with SerialLink(board.port) as link:  # main.py runs the agent and its console
            assert SetupConsole(link, timeout=15).request("status")["firmware"]
        # mpremote's Ctrl-C stops the agent (outside a frame 0x03 is an interrupt)
        assert "running" in _mpremote(board.port, "resume", "exec", "print('running')")
        _mpremote(board.port, "resume", "reset")  # machine.reset() after 100 ms
        with SerialLink(board.port) as link:
            wait_for_boot(board, link, 2)
            assert SetupConsole(link, timeout=15).request("status")["firmware"]
