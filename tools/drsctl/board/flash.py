"""``drsctl flash``: put a MicroPython image (ours, frozen, or stock) onto an ESP32.

esptool (pinned) does the work: connect through the ROM bootloader, erase the whole
flash, write the image at the chip's offset (the bootloader's place: 0x1000 on the
ESP32, 0x0 on the S3 and C3), reset. Before it talks to the board it checks what it
can on the desktop, so the common mistakes end in one line and exit code 1: a port
that does not exist, a port another program holds, an image built for another chip,
a board that is not the chip asked for, a board that does not answer.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

from drsctl.clierrors import runtime_error, usage_error

# chip name (esptool's) -> where the image starts in flash
CHIP_OFFSETS = {"esp32": 0x1000, "esp32s3": 0x0, "esp32c3": 0x0}
_IMAGE_MAGIC = 0xE9  # first byte of an ESP image (the bootloader at the image's start)
_CHIP_ID_AT = 12  # the extended header's little-endian chip id (ESP32 and later)
_CONNECT_ATTEMPTS = 3  # esptool's reset-and-sync tries before "no answer"

err = Console(stderr=True)


class FlashError(Exception):
    """A problem the user can fix; its message is the one line shown."""


def image_chip(image: bytes) -> str:
    """The chip an ESP image was built for (from its header), as esptool names it."""
    from esptool.targets import CHIP_DEFS

    if len(image) < _CHIP_ID_AT + 2 or image[0] != _IMAGE_MAGIC:
        raise FlashError("not an ESP firmware image (it must start with the bootloader)")
    chip_id = int.from_bytes(image[_CHIP_ID_AT : _CHIP_ID_AT + 2], "little")
    for name, rom in CHIP_DEFS.items():
        if getattr(rom, "IMAGE_CHIP_ID", None) == chip_id and name != "esp8266":
            return name
    raise FlashError(f"the image is for an unknown chip (id {chip_id})")


def check_port(port: str) -> None:
    """Raise FlashError when the port is missing, cannot be opened, or is busy.

    Busy: another program holds an exclusive lock on it, as pyserial's exclusive mode
    takes (drsctl monitor and provision, esptool).
    """
    if not os.path.exists(port):
        raise FlashError(f"{port}: no such serial port (is the board plugged in?)")
    try:
        fd = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            raise FlashError(f"{port} is busy: another program has it open") from None
        if exc.errno == errno.EACCES:
            raise FlashError(
                f"{port}: permission denied (add yourself to the port's group)"
            ) from None
        raise FlashError(f"{port}: cannot open: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise FlashError(
            f"{port} is busy: another program (drsctl monitor, a serial console) has it open"
        ) from None
    finally:
        os.close(fd)


def _first_line(exc: Exception) -> str:
    """The first line of an esptool error (a troubleshooting link follows it)."""
    return str(exc).strip().splitlines()[0].rstrip(".")


def _chip_name(esp: Any) -> str:
    return esp.CHIP_NAME.lower().replace("-", "")


class _ProgressLogger:
    """esptool's log sink: its messages stay quiet, its progress drives one bar."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: Any = None

    def progress_bar(self, cur_iter: int, total_iters: int, *args: Any, **kwargs: Any) -> None:
        """Show how many bytes are written."""
        if self.task is None:
            self.task = self.progress.add_task("writing", total=total_iters)
        self.progress.update(self.task, completed=cur_iter, total=total_iters)


def _esptool_logger(progress: Progress) -> Any:
    from esptool.logger import TemplateLogger

    sink = _ProgressLogger(progress)

    class Logger(TemplateLogger):
        def print(self, *args: Any, **kwargs: Any) -> None:
            pass

        def note(self, message: str) -> None:
            pass

        def warning(self, message: str) -> None:
            err.print(f"warning: {message}", highlight=False)

        def error(self, message: str) -> None:
            pass  # esptool raises FatalError too: that is the one line shown

        def stage(self, finish: bool = False) -> None:
            pass

        def progress_bar(self, *args: Any, **kwargs: Any) -> None:
            sink.progress_bar(*args, **kwargs)

        def set_verbosity(self, verbosity: str) -> None:
            pass

    return Logger()


def flash_firmware(port: str, firmware: Path, chip: str | None = None, baud: int = 460800) -> str:
    """Erase the board on port and write firmware at its chip's offset; return the chip.

    FlashError (one line) for everything the user can fix.
    """
    if chip is not None and chip not in CHIP_OFFSETS:
        raise FlashError(f"unknown chip {chip!r}: choose one of {', '.join(CHIP_OFFSETS)}")
    try:
        image = firmware.read_bytes()
    except OSError as exc:
        raise FlashError(f"{firmware}: {exc.strerror}") from None
    built_for = image_chip(image)
    if built_for not in CHIP_OFFSETS:
        raise FlashError(f"{firmware.name} is built for {built_for}, not a supported chip")
    if chip is not None and built_for != chip:
        raise FlashError(f"{firmware.name} is built for {built_for}, not {chip}")
    check_port(port)

    from esp_pylib.logger import EspLog
    from esptool import FatalError, cmds
    from esptool.logger import log

    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        console=err,
        disable=not err.is_terminal,  # CI and pipes: no bar
        transient=True,
    )
    original = EspLog.instance
    original.set_verbosity("silent")  # some esptool warnings are bound to it at import
    log.set_logger(_esptool_logger(progress))
    esp = None
    try:
        try:
            esp = cmds.detect_chip(port, connect_attempts=_CONNECT_ATTEMPTS)
        except (FatalError, OSError) as exc:
            raise FlashError(
                f"no ESP chip answered on {port}: hold BOOT and press RESET, check the cable"
                f" ({_first_line(exc)})"
            ) from None
        found = _chip_name(esp)
        if found != built_for:
            raise FlashError(f"the board on {port} is an {esp.CHIP_NAME}, not {built_for}")
        try:
            esp = cmds.run_stub(esp)
            esp.change_baud(baud)
            cmds.attach_flash(esp)
            with progress:
                cmds.erase_flash(esp)
                cmds.write_flash(esp, [(CHIP_OFFSETS[found], str(firmware))])
            cmds.reset_chip(esp, "hard-reset")
        except (FatalError, OSError) as exc:
            raise FlashError(f"flashing failed on {port}: {_first_line(exc)}") from None
    finally:
        if esp is not None:
            esp._port.close()
        EspLog.instance = original
        original.set_verbosity("auto")
    return found


def flash(
    # Optional to typer so that a missing one gets the CLI's one-line usage error.
    port: Annotated[
        str | None, typer.Option(help="Serial port of the board, e.g. /dev/ttyUSB0 (required).")
    ] = None,
    firmware: Annotated[
        Path | None, typer.Option(help="MicroPython image (.bin) to write (required).")
    ] = None,
    chip: Annotated[
        str | None,
        typer.Option(help="esp32, esp32s3 or esp32c3 (default: what the image is built for)."),
    ] = None,
    baud: Annotated[int, typer.Option(help="Baud rate while writing.")] = 460800,
) -> None:
    """Erase the board and write a MicroPython image at the chip's offset (esptool)."""
    if port is None:
        usage_error("--port", "required: the board's serial port, e.g. /dev/ttyUSB0")
    if firmware is None:
        usage_error("--firmware", "required: the MicroPython image (.bin) to write")
    if chip is not None and chip not in CHIP_OFFSETS:
        usage_error("--chip", f"choose one of {', '.join(CHIP_OFFSETS)}")
    try:
        found = flash_firmware(port, firmware, chip, baud)
    except FlashError as exc:
        runtime_error(str(exc))
    print(f"flashed {firmware.name} onto the {found} on {port}")
