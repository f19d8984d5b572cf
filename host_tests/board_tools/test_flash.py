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
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    assert "esp32, esp32s3, esp32c3" in p.stderr


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
