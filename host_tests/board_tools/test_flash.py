"""``drsctl flash`` error paths, the real command in a subprocess (no CI terminal):
each mistake ends in one line on stderr and exit code 1 (2 for usage), no traceback."""

import fcntl
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from drsctl.board.flash import CHIP_OFFSETS, FlashError, image_chip

DRSCTL = Path(sys.executable).parent / "drsctl"
CHIP_IDS = {"esp32": 0, "esp32s3": 9, "esp32c3": 5}


def image(chip: str) -> bytes:
    """The start of an ESP image: magic, segment count, flash mode/size, entry point,
    then the extended header whose bytes 12-13 are the chip id."""
    head = bytearray(b"\xe9\x03\x02\x20" + b"\x00" * 4 + b"\xee" + b"\x00" * 3)
    head += CHIP_IDS[chip].to_bytes(2, "little")
    return bytes(head) + b"\xff" * 1024


@pytest.fixture
def pty_port():
    """A serial port with nobody behind it (a board that does not answer)."""
    master, slave = pty.openpty()
    yield os.ttyname(slave), slave
    os.close(master)
    os.close(slave)


def drsctl_flash(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(DRSCTL), "flash", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def one_line_error(p: subprocess.CompletedProcess, code: int = 1) -> str:
    assert p.returncode == code, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr + p.stdout
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize("chip", sorted(CHIP_IDS))
def test_image_header_names_its_chip(chip):
    assert image_chip(image(chip)) == chip
    assert chip in CHIP_OFFSETS


def test_offsets_per_chip():
    assert CHIP_OFFSETS == {"esp32": 0x1000, "esp32s3": 0x0, "esp32c3": 0x0}


def test_missing_port(tmp_path):
    fw = tmp_path / "fw.bin"
    fw.write_bytes(image("esp32"))
    line = one_line_error(drsctl_flash("--port", "/dev/ttyNOSUCH0", "--firmware", str(fw)))
    assert "/dev/ttyNOSUCH0: no such serial port" in line


def test_busy_port(tmp_path, pty_port):
    name, _ = pty_port
    fw = tmp_path / "fw.bin"
    fw.write_bytes(image("esp32c3"))
    holder = os.open(name, os.O_RDWR | os.O_NOCTTY)
    fcntl.flock(holder, fcntl.LOCK_EX)  # what a serial monitor (pyserial exclusive) does
    try:
        line = one_line_error(drsctl_flash("--port", name, "--firmware", str(fw)))
    finally:
        os.close(holder)
    assert "busy" in line


def test_image_for_another_chip(tmp_path, pty_port):
    fw = tmp_path / "ESP32_GENERIC_S3.bin"
    fw.write_bytes(image("esp32s3"))
    line = one_line_error(
        drsctl_flash("--port", pty_port[0], "--firmware", str(fw), "--chip", "esp32")
    )
    assert "ESP32_GENERIC_S3.bin is built for esp32s3, not esp32" in line


@pytest.mark.parametrize(
    "content,expected",
    [(b"PK\x03\x04 a zip", "not an ESP firmware image"), (None, "No such file")],
)
def test_bad_firmware_file(tmp_path, pty_port, content, expected):
    fw = tmp_path / "fw.bin"
    if content is not None:
        fw.write_bytes(content)
    line = one_line_error(drsctl_flash("--port", pty_port[0], "--firmware", str(fw)))
    assert expected in line


def test_unknown_chip_is_a_usage_error(tmp_path):
    fw = tmp_path / "fw.bin"
    fw.write_bytes(image("esp32"))
    p = drsctl_flash("--port", "/dev/null", "--firmware", str(fw), "--chip", "esp8266")
    line = one_line_error(p, code=2)
    assert line == "error: --chip: choose one of esp32, esp32s3, esp32c3"


@pytest.mark.parametrize("missing", ["--port", "--firmware"])
def test_missing_option_is_a_one_line_usage_error(tmp_path, missing):
    fw = tmp_path / "fw.bin"
    fw.write_bytes(image("esp32"))
    args = {"--port": "/dev/ttyUSB0", "--firmware": str(fw)}
    del args[missing]
    line = one_line_error(drsctl_flash(*[x for kv in args.items() for x in kv]), code=2)
    assert line.startswith(f"error: {missing}: required")


def test_board_that_does_not_answer(tmp_path, pty_port):
    """esptool itself against a pty with nothing behind it: its sync times out."""
    fw = tmp_path / "fw.bin"
    fw.write_bytes(image("esp32"))
    line = one_line_error(drsctl_flash("--port", pty_port[0], "--firmware", str(fw)))
    assert f"no ESP chip answered on {pty_port[0]}" in line
    assert "http" not in line  # esptool's troubleshooting link is left out


def test_flash_error_is_raised_in_process_too(tmp_path):
    fw = tmp_path / "fw.bin"
    fw.write_bytes(image("esp32"))
    from drsctl.board.flash import flash_firmware

    with pytest.raises(FlashError, match="no such serial port"):
        flash_firmware("/dev/ttyNOSUCH0", fw)


def test_web_tools_manifest_for_frozen_builds(tmp_path):
    import json

    from drsctl.board.webtools import write_site

    images = []
    for chip in ("esp32", "esp32s3"):
        images.append(tmp_path / f"{chip}.bin")
        images[-1].write_bytes(image(chip))
    path = write_site(images, tmp_path / "site")
    manifest = json.loads(path.read_text())
    assert manifest["new_install_prompt_erase"] is True
    assert manifest["builds"] == [
        {"chipFamily": "ESP32", "improv": True, "parts": [{"path": "esp32.bin", "offset": 4096}]},
        {"chipFamily": "ESP32-S3", "improv": True, "parts": [{"path": "esp32s3.bin", "offset": 0}]},
    ]
    assert (tmp_path / "site" / "esp32s3.bin").read_bytes() == image("esp32s3")
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"not an image")
    with pytest.raises(FlashError, match="not an ESP firmware image"):
        write_site([bad], tmp_path / "site2")


class FakeEsp32RomLoader:
    """The ESP32's ROM serial bootloader behind a pty, as far as chip detection goes:
    SLIP frames; SYNC answered (8 times, as the ROM does); GET_SECURITY_INFO refused
    (the ESP32 ROM predates it); READ_REG of the chip-magic register answers the
    ESP32's magic value. Enough for esptool to tell which chip it talks to."""

    SYNC, READ_REG, GET_SECURITY_INFO = 0x08, 0x0A, 0x14
    MAGIC_REG, ESP32_MAGIC = 0x40001000, 0x00F01D83

    def __init__(self, master: int) -> None:
        import threading

        self.master = master
        self.requests: list[int] = []
        self.stopped = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def reply(self, op: int, value: int = 0, status: bytes = b"\x00\x00\x00\x00") -> None:
        import struct

        packet = struct.pack("<BBHI", 1, op, len(status), value) + status
        escaped = packet.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc")
        os.write(self.master, b"\xc0" + escaped + b"\xc0")

    def handle(self, frame: bytes) -> None:
        import struct

        frame = frame.replace(b"\xdb\xdc", b"\xc0").replace(b"\xdb\xdd", b"\xdb")
        if len(frame) < 8 or frame[0] != 0:
            return
        op = frame[1]
        self.requests.append(op)
        if op == self.SYNC:
            for _ in range(8):
                self.reply(op, 0x20120707)
        elif op == self.READ_REG:
            (address,) = struct.unpack("<I", frame[8:12])
            self.reply(op, self.ESP32_MAGIC if address == self.MAGIC_REG else 0)
        else:  # an unsupported command: status 1, error 0x05
            self.reply(op, 0, b"\x01\x05\x00\x00")

    def serve(self) -> None:
        import select

        buffer = b""
        while not self.stopped:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if not ready:
                continue
            try:
                buffer += os.read(self.master, 4096)
            except OSError:  # the other side closed
                return
            while buffer.count(b"\xc0") >= 2:
                start = buffer.index(b"\xc0")
                end = buffer.index(b"\xc0", start + 1)
                if end == start + 1:  # two delimiters in a row: the next frame starts
                    buffer = buffer[end:]
                    continue
                self.handle(buffer[start + 1 : end])
                buffer = buffer[end + 1 :]


def test_board_is_another_chip_than_the_image(tmp_path):
    """esptool detects an ESP32 on the port; the image is for the ESP32-S3."""
    master, slave = pty.openpty()
    port = os.ttyname(slave)
    rom = FakeEsp32RomLoader(master)
    fw = tmp_path / "s3.bin"
    fw.write_bytes(image("esp32s3"))
    try:
        line = one_line_error(drsctl_flash("--port", port, "--firmware", str(fw)))
    finally:
        rom.stopped = True
        rom.thread.join(2)
        os.close(master)
        os.close(slave)
    assert f"the board on {port} is an ESP32, not esp32s3" in line
    assert rom.requests[0] == FakeEsp32RomLoader.SYNC
    assert FakeEsp32RomLoader.READ_REG in rom.requests


def test_erase_then_write_at_the_offset_with_a_progress_bar(tmp_path, pty_port, monkeypatch):
    """The flashing sequence through esptool's API, with esptool's device layer faked
    (the chip object and the serial protocol): erase, write at the chip's offset,
    progress shown on a terminal, reset, port closed."""
    import io

    from drsctl.board import flash as flash_module
    from esptool import cmds
    from esptool.logger import log
    from rich.console import Console

    calls = []

    class Port:
        def close(self):
            calls.append("close")

    class Chip:
        CHIP_NAME = "ESP32-C3"
        _port = Port()

        def change_baud(self, baud):
            calls.append(("baud", baud))

    def write_flash(esp, addr_data, **kwargs):
        offset, path = addr_data[0]
        data = Path(path).read_bytes()
        calls.append(("write", offset, len(data)))
        with log.progress(total=len(data), unit="B") as progress:
            for _ in range(0, len(data), 256):
                progress.update(advance=256)

    monkeypatch.setattr(cmds, "detect_chip", lambda port, **kw: calls.append("detect") or Chip())
    monkeypatch.setattr(cmds, "run_stub", lambda esp: calls.append("stub") or esp)
    monkeypatch.setattr(cmds, "attach_flash", lambda esp: calls.append("attach"))
    monkeypatch.setattr(cmds, "erase_flash", lambda esp: calls.append("erase"))
    monkeypatch.setattr(cmds, "write_flash", write_flash)
    monkeypatch.setattr(cmds, "reset_chip", lambda esp, mode: calls.append(("reset", mode)))
    screen = io.StringIO()
    monkeypatch.setattr(flash_module, "err", Console(file=screen, force_terminal=True, width=80))
    fw = tmp_path / "c3.bin"
    fw.write_bytes(image("esp32c3"))
    assert flash_module.flash_firmware(pty_port[0], fw, "esp32c3", 921600) == "esp32c3"
    assert calls == [
        "detect",
        "stub",
        ("baud", 921600),
        "attach",
        "erase",
        ("write", 0x0, len(image("esp32c3"))),
        ("reset", "hard-reset"),
        "close",
    ]
    assert "writing" in screen.getvalue()  # the bar was drawn on the terminal
