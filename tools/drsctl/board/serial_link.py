"""One serial transport (pyserial) for real USB ports and the virtual board's pty alike.

It sends frames, waits for the answer it needs with a timeout, and hands every log
line that shares the port to a callback, redacted.
"""

from __future__ import annotations

import errno
import re
import time
from collections.abc import Callable

import serial

from drsctl.board.improv import Frame, StreamSplitter

BAUDRATE = 115200
_POLL_S = 0.05

# Anything token-like in a log line: LwA tokens, client secrets, "key: value" pairs
# whose key names a secret. The device scrubs its lines already; this is the second
# line of defence for a desktop that prints or stores them.
_SECRET_VALUE = re.compile(r"(Atz[ar]\||Atz[ar]%7C|amzn1\.oa2-cs\.)[^\s\"',;]*", re.IGNORECASE)
_SECRET_FIELD = re.compile(
    r"((?:secret|token|passw\w*|psk)\w*[\"']?\s*[:=]\s*[\"']?)([^\s\"',;}]+)", re.IGNORECASE
)


def redact(line: str) -> str:
    """The line with anything that looks like a secret replaced by ``***``."""
    line = _SECRET_VALUE.sub(lambda m: m.group(1) + "***", line)
    return _SECRET_FIELD.sub(lambda m: m.group(1) + "***", line)


class PortError(RuntimeError):
    """The port cannot be opened (missing, busy, no permission)."""


class DeviceTimeout(RuntimeError):
    """The device stopped answering."""


def _open_error(port: str, exc: serial.SerialException) -> PortError:
    code = exc.errno
    text = str(exc)
    if code == errno.ENOENT or "No such file" in text:
        return PortError(f"{port}: no such port (is the board plugged in and powered?)")
    if code in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK) or "lock" in text:
        return PortError(
            f"{port} is busy: another program (a monitor, mpremote, esptool) has it open"
        )
    if code == errno.ENOTTY or "Inappropriate ioctl" in text:  # pyserial drops the errno
        return PortError(f"{port} is not a serial port")
    if code == errno.EACCES:
        return PortError(f"{port}: permission denied (on Linux: join the 'dialout' group)")
    return PortError(f"{port}: cannot open: {text}")


class SerialLink:
    """A device on a serial port: frames out, frames and log lines in."""

    def __init__(
        self,
        port: str,
        on_log: Callable[[str], None] | None = None,
        baudrate: int = BAUDRATE,
    ) -> None:
        self.port = port
        self.on_log = on_log
        self._splitter = StreamSplitter()
        self._frames: list[Frame] = []  # read but not yet asked for, oldest first
        try:
            self._serial = serial.Serial(port, baudrate, timeout=_POLL_S, exclusive=True)
        except serial.SerialException as exc:
            raise _open_error(port, exc) from None

    def close(self) -> None:
        """Release the port."""
        try:
            self._serial.close()
        except (OSError, serial.SerialException):
            pass  # the other end is gone already

    def __enter__(self) -> SerialLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, frame: bytes) -> None:
        """Write one frame, at the start of a line (Improv clients expect that)."""
        try:
            self._serial.write(frame)
            self._serial.flush()
        except (OSError, serial.SerialException) as exc:
            raise DeviceTimeout(f"{self.port}: the device went away: {exc}") from None

    def poll(self) -> list[Frame]:
        """Read what arrived: log lines go to ``on_log``, frames are returned.

        Frames read earlier but not taken by wait_for come first.
        """
        try:
            data = self._serial.read(max(1, self._serial.in_waiting))
        except (OSError, serial.SerialException) as exc:
            raise DeviceTimeout(f"{self.port}: the device went away: {exc}") from None
        frames, self._frames = self._frames, []
        for item in self._splitter.feed(data):
            if isinstance(item, Frame):
                frames.append(item)
            elif self.on_log is not None and item.strip():
                self.on_log(redact(item))
        return frames

    def wait_for(self, accept: Callable[[Frame], bool], timeout: float, what: str) -> Frame:
        """The first frame ``accept`` takes; DeviceTimeout naming ``what`` after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            frames = self.poll()
            for i, frame in enumerate(frames):
                if accept(frame):
                    self._frames = frames[i + 1 :] + self._frames  # keep the rest
                    return frame
        raise DeviceTimeout(
            f"{self.port}: no answer to {what} within {timeout:g} s "
            "(is the agent running? after mpremote, reset the board)"
        )
