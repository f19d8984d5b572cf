"""A stand-in for a board on a serial port: the MicroPython unix binary behind a pty.

The port users open (``/dev/pts/N``) is one pseudo-terminal; the ``micropython``
process sits on a second one, and a relay copies bytes between them. So the process
can end and start again (a board resetting) while the port stays open, and output
nobody reads is dropped (as a USB serial port does) instead of stalling the board.

The folder given as the flash is the process's current directory (the unix port's
flash root) and the first entry of ``MICROPYPATH``; the stand-in ``machine``,
``network`` and ``ntptime`` modules (``unixport/``) come after it. A boot runs
``main.py`` from the flash when there is one, then the REPL (``micropython -i``), as a
board does; without one it starts in the REPL.

Restarts: a soft reset in the raw REPL (mpremote without ``resume``) ends the unix
process; the relay answers ``soft reboot`` and starts a new one in the raw REPL, as a
board stays in the raw REPL after a soft reset. ``machine.reset()`` asks for a restart
over a control pipe (a unix process cannot end itself from the raw REPL); any other
end of the process (Ctrl-D in the REPL, a crash) boots again.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import threading
import time
import tty
from pathlib import Path

from drsctl.firmware import micropython_binary

UNIXPORT_DIR = Path(__file__).with_name("unixport")
_RAW_REPL_BANNER = b"raw REPL; CTRL-B to exit"
_CTRL_A = 0x01
_CTRL_B = 0x02
_QUICK_EXIT_S = 1.0  # a boot that ends faster than this waits before the next one
_READ_SIZE = 4096


class VirtualBoard:
    """The unix port behind a pseudo-terminal; ``port`` is what serial tools open."""

    def __init__(
        self,
        flash: Path,
        wifi: dict[str, str] | None = None,
        bench: Path | None = None,
        heap: str | None = None,
    ) -> None:
        self.flash = flash.resolve()
        self.wifi = dict(wifi or {})
        self.bench = bench
        self.heap = heap
        self.boots = 0
        self._port_master, self._port_slave = pty.openpty()
        tty.setraw(self._port_slave)
        os.set_blocking(self._port_master, False)
        self.port = os.ttyname(self._port_slave)
        self._control_read, self._control_write = os.pipe()
        self._process: subprocess.Popen[bytes] | None = None
        self._board_master = -1
        self._raw_repl = False
        self._tail = b""
        self._restart_at = 0.0
        self._restart_raw = False
        self._started_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        """Process id of the running MicroPython (None between two boots)."""
        return self._process.pid if self._process is not None else None

    # -- the micropython process ---------------------------------------------------
    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["MICROPYPATH"] = f"{self.flash}:{self.flash / 'lib'}:{UNIXPORT_DIR}"
        env["DRSCTL_VBOARD_WIFI"] = json.dumps(self.wifi)
        env["DRSCTL_VBOARD_CONTROL"] = str(self._control_write)
        if self.bench is not None:
            env["DRSCTL_BENCH"] = str(self.bench.resolve())
        else:
            env.pop("DRSCTL_BENCH", None)
        return env

    def _start(self, raw_repl: bool) -> None:
        command = [micropython_binary()]
        if self.heap:
            command += ["-X", f"heapsize={self.heap}"]
        if not raw_repl and (self.flash / "main.py").exists():
            command += ["-i", "main.py"]
        master, slave = pty.openpty()
        tty.setraw(slave)  # raw both ways: frames and Ctrl-C are bytes, not signals
        self._process = subprocess.Popen(
            command,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=self.flash,
            env=self._environment(),
            pass_fds=(self._control_write,),
            start_new_session=True,  # the terminal's Ctrl-C is for virtual-board only
        )
        os.close(slave)
        self._board_master = master
        self._raw_repl = False
        self._tail = b""
        self._started_at = time.monotonic()
        self.boots += 1
        if raw_repl:
            os.write(master, bytes((ord("\r"), _CTRL_A)))

    def _end_process(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
        if process is not None:
            process.wait()
        if self._board_master >= 0:
            os.close(self._board_master)
            self._board_master = -1
        self._process = None

    def _board_ended(self, reset_request: str | None = None) -> None:
        """The process ended (or asked for a reset): schedule the next boot."""
        soft_reset = self._raw_repl and reset_request is None
        lived = time.monotonic() - self._started_at
        self._end_process()
        delay = 0.0
        if reset_request and reset_request.startswith("deepsleep"):
            delay = int(reset_request.split()[1]) / 1000
        elif not soft_reset and not reset_request and lived < _QUICK_EXIT_S:
            delay = _QUICK_EXIT_S  # a board that ends at once would spin: pace it
        if soft_reset:
            self._to_port(b"soft reboot\r\n")
        self._restart_raw = soft_reset
        self._restart_at = time.monotonic() + delay

    # -- the relay ---------------------------------------------------------------------
    def _to_port(self, data: bytes) -> None:
        try:
            os.write(self._port_master, data)
        except BlockingIOError:
            pass  # nobody reads the port: drop it, as a USB serial port does

    def _from_board(self, data: bytes) -> None:
        seen = self._tail + data
        if _RAW_REPL_BANNER in seen:
            self._raw_repl = True
        self._tail = seen[-len(_RAW_REPL_BANNER) :]
        self._to_port(data)

    def _from_port(self, data: bytes) -> None:
        if _CTRL_B in data:
            self._raw_repl = False
        try:
            os.write(self._board_master, data)
        except OSError:
            pass  # the process is ending (a reset): lost, as bytes sent to a resetting board

    def _relay_once(self, timeout: float) -> None:
        watched = [self._control_read]
        if self._board_master >= 0:  # between two boots the port keeps what it is sent
            watched += [self._board_master, self._port_master]
        ready, _, _ = select.select(watched, [], [], timeout)
        if self._board_master >= 0 and self._board_master in ready:
            try:
                data = os.read(self._board_master, _READ_SIZE)
            except OSError:  # EIO: the process closed its terminal (it ended)
                data = b""
            if data:
                self._from_board(data)
            else:
                self._board_ended()
        if self._control_read in ready:
            # Its output so far (mpremote waits for the raw REPL's last \x04) goes first.
            while self._board_master >= 0 and select.select([self._board_master], [], [], 0)[0]:
                try:
                    data = os.read(self._board_master, _READ_SIZE)
                except OSError:
                    break
                if not data:
                    break
                self._from_board(data)
            request = os.read(self._control_read, 256).decode(errors="replace").strip()
            self._board_ended(request.splitlines()[-1] if request else "reset")
            return
        if self._port_master in ready and self._board_master >= 0:
            try:
                data = os.read(self._port_master, _READ_SIZE)
            except (BlockingIOError, OSError):
                data = b""
            if data:
                self._from_port(data)

    def run(self) -> None:
        """Boot the board and relay until stop() (or Ctrl-C in the caller)."""
        try:
            while not self._stop.is_set():
                if self._process is None and time.monotonic() >= self._restart_at:
                    self._start(self._restart_raw)
                self._relay_once(0.1)
        finally:
            self._end_process()

    # -- life cycle ----------------------------------------------------------------------
    def start(self) -> VirtualBoard:
        """Run the board in a background thread (tests, scripts)."""
        self._thread = threading.Thread(target=self.run, name="virtual-board", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Power off: end the process, close the port."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._end_process()
        for fd in (self._port_master, self._port_slave, self._control_read, self._control_write):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> VirtualBoard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
