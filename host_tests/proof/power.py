"""The layer below the firmware, with a power switch: a flash that can lose power at any
write and a network that can lose power after a request was sent.

Both count *I/O points* on one :class:`PowerSwitch`; a test arms the switch to cut the
power at point number N and every I/O of the device after that fails with
:class:`PowerCut` until the device is booted again. What a cut leaves behind is what
real hardware leaves:

* flash, a write of ``name`` (the store writes ``name.tmp`` and renames it):
  ``create`` cut: the write is lost before the rename (no tmp file);
  ``close`` cut: a torn write (the tmp file holds the first half of the data);
  ``rename`` cut: the rename is lost (a complete tmp file, the old ``name`` untouched);
* network: ``send`` cut: nothing left the device; ``answer`` cut: the request reached
  the server and was acted on, the answer is lost with the device.

The flash is a namespace of paths under :data:`FLASH_ROOT` served from memory by
patched ``open``/``os`` functions (any other path goes to the real file system), so
the firmware's own store code runs unchanged on it.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import os
from collections.abc import Callable, Iterator
from typing import Any

FLASH_ROOT = "<flash>"


class PowerCut(BaseException):
    """The power went off. A BaseException: the firmware's ``except Exception`` blocks
    must not survive it, exactly as no code survives a real power loss."""


class PowerSwitch:
    """Counts I/O points and cuts the power at the armed one."""

    def __init__(self) -> None:
        self.points = 0
        self.labels: list[str] = []  # label of every point so far (for reports)
        self.cut_at: int | None = None
        self.cut_on: str | None = None
        self.off = False
        self.cut_label: str | None = None

    def arm(self, point: int | None = None, label: str | None = None) -> None:
        """Cut the power at I/O point number ``point`` (1-based, counted from now on),
        or at the next point labelled ``label`` (such as "answer replenish")."""
        self.cut_at = None if point is None else self.points + point
        self.cut_on = label

    def point(self, label: str) -> bool:
        """Register an I/O point; True when the power goes off right here."""
        if self.off:
            raise PowerCut(label)
        self.points += 1
        self.labels.append(label)
        if self.points == self.cut_at or label == self.cut_on:
            self.cut_at = self.cut_on = None
            self.off = True
            self.cut_label = label
            return True
        return False

    def power_on(self) -> None:
        """The device boots again: I/O works (the armed point has passed)."""
        self.off = False


class _FlashFile:
    """An open file on the fake flash."""

    def __init__(self, flash: Flash, name: str, mode: str) -> None:
        self.flash = flash
        self.name = name
        self.binary = "b" in mode
        self.writing = "w" in mode or "a" in mode
        if self.writing:
            if flash.switch.point("create " + name):
                raise PowerCut(name)  # the write never reached flash
            flash.files[name] = b""
            self.buffer = bytearray()
        else:
            if name not in flash.files:
                raise FileNotFoundError(errno.ENOENT, "No such file", name)
            self.data = flash.files[name]
            self.pos = 0

    def write(self, data: str | bytes) -> int:
        if self.flash.switch.off:
            raise PowerCut(self.name)
        self.buffer += data.encode() if isinstance(data, str) else bytes(data)
        return len(data)

    def read(self, size: int = -1) -> str | bytes:
        end = len(self.data) if size is None or size < 0 else self.pos + size
        chunk = self.data[self.pos : end]
        self.pos += len(chunk)
        return chunk if self.binary else chunk.decode()

    def flush(self) -> None:
        if self.flash.switch.off:
            raise PowerCut(self.name)

    def fileno(self) -> int:
        return -1  # the patched os.fsync knows this one

    def close(self) -> None:
        if not self.writing:
            return
        self.writing = False
        if self.flash.switch.point("close " + self.name):
            self.flash.files[self.name] = bytes(self.buffer[: len(self.buffer) // 2])
            raise PowerCut(self.name)  # torn: half the data made it
        self.flash.files[self.name] = bytes(self.buffer)

    def __enter__(self) -> _FlashFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Flash:
    """The device's flash: durable file contents by name, in memory."""

    def __init__(self, switch: PowerSwitch) -> None:
        self.switch = switch
        self.files: dict[str, bytes] = {}

    @staticmethod
    def name_of(path: Any) -> str | None:
        """The file name on this flash, or None for a path of the real file system."""
        if isinstance(path, str) and path.startswith(FLASH_ROOT):
            return path[len(FLASH_ROOT) :].lstrip("/")
        return None

    def open(self, name: str, mode: str = "r") -> _FlashFile:
        return _FlashFile(self, name, mode)

    def rename(self, old: str, new: str) -> None:
        if old not in self.files:
            raise FileNotFoundError(errno.ENOENT, "No such file", old)
        if self.switch.point("rename " + new):
            raise PowerCut(new)  # the rename is lost: tmp complete, the old file as it was
        self.files[new] = self.files.pop(old)

    def remove(self, name: str) -> None:
        if self.switch.off:
            raise PowerCut(name)
        if name not in self.files:
            raise FileNotFoundError(errno.ENOENT, "No such file", name)
        del self.files[name]

    def stat(self, name: str) -> os.stat_result:
        if name not in self.files:
            raise FileNotFoundError(errno.ENOENT, "No such file", name)
        return os.stat_result((0o100644, 0, 0, 1, 0, 0, len(self.files[name]), 0, 0, 0))

    @contextlib.contextmanager
    def mounted(self) -> Iterator[Flash]:
        """Serve paths under FLASH_ROOT from this flash while the block runs."""
        real = {
            "open": builtins.open,
            "rename": os.rename,
            "remove": os.remove,
            "listdir": os.listdir,
            "stat": os.stat,
            "fsync": os.fsync,
        }

        def route(fake: Callable[..., Any], name: str) -> Callable[..., Any]:
            def call(path: Any, *args: Any, **kwargs: Any) -> Any:
                local = self.name_of(path)
                if local is None:
                    return real[name](path, *args, **kwargs)
                return fake(local, *args)

            return call

        def rename(old: Any, new: Any) -> None:
            a, b = self.name_of(old), self.name_of(new)
            if a is None or b is None:
                return real["rename"](old, new)
            return self.rename(a, b)

        def listdir(path: Any = ".") -> list[str]:
            if self.name_of(path) is None:
                return real["listdir"](path)
            return sorted(self.files)

        def fsync(fd: int) -> None:
            if fd != -1:
                real["fsync"](fd)

        builtins.open = route(self.open, "open")
        os.rename = rename
        os.remove = route(self.remove, "remove")
        os.listdir = listdir
        os.stat = route(self.stat, "stat")
        os.fsync = fsync
        try:
            yield self
        finally:
            builtins.open = real["open"]
            os.rename = real["rename"]
            os.remove = real["remove"]
            os.listdir = real["listdir"]
            os.stat = real["stat"]
            os.fsync = real["fsync"]


@contextlib.contextmanager
def network_switch(switch: PowerSwitch) -> Iterator[None]:
    """Route the firmware's HTTP requests through the power switch while the block runs."""
    from drsagent import http

    real = http.request

    def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        route = url.split("/")[3] if url.count("/") > 2 else url
        if switch.point("send " + route):
            raise PowerCut(route)  # nothing left the device
        answer = real(method, url, *args, **kwargs)
        if switch.point("answer " + route):
            raise PowerCut(route)  # Amazon acted on it; the answer dies with the device
        return answer

    http.request = request
    try:
        yield
    finally:
        http.request = real
