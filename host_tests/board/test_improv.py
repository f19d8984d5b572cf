"""Improv Wi-Fi serial framing, desktop and device side, against byte vectors.

Each vector was worked out by hand from the protocol's rule: the checksum is the low
byte of the sum of every preceding byte, header included ("IMPROV" sums to 477).
"""

from __future__ import annotations

import sys

import pytest
from drsctl.board import improv
from drsctl.board.improv import Frame, ImprovType, Rpc, StreamSplitter
from drsctl.firmware import firmware_dir

REQUEST_STATE = bytes.fromhex("49 4d 50 52 4f 56 01 03 02 02 00 e5")  # 477+1+3+2+2 = 0x1e5
WIFI_SETTINGS = bytes.fromhex(
    "49 4d 50 52 4f 56 01 03 20 01 1e 0c 4d 79 57 69 72 65 6c 65 73 73 41 50"
    " 10 6d 79 73 65 63 75 72 65 70 61 73 73 77 6f 72 64 c1"
)  # ssid "MyWirelessAP", password "mysecurepassword"
STATE_PROVISIONED = bytes.fromhex("49 4d 50 52 4f 56 01 01 01 04 e4")
ERROR_UNABLE_TO_CONNECT = bytes.fromhex("49 4d 50 52 4f 56 01 02 01 03 e4")
DEVICE_INFO_RESULT = bytes.fromhex(
    "49 4d 50 52 4f 56 01 04 1c 03 1a 08 64 72 73 61 67 65 6e 74 05 30 2e 31 2e 30"
    " 05 6c 69 6e 75 78 04 56 42 2d 31 9c"
)
SETUP_STATUS = bytes.fromhex(
    "44 52 53 43 46 47 01 01 00 11 7b 22 63 6d 64 22 3a 20 22 73 74 61 74 75 73 22 7d 7e"
)  # DRSCFG, 2-byte length 0x0011, {"cmd": "status"}


@pytest.fixture(scope="module")
def device_improv():
    """The firmware's own framing module, imported on CPython."""
    sys.path.insert(0, str(firmware_dir()))
    try:
        from drsagent import improv as firmware_improv

        yield firmware_improv
    finally:
        sys.path.remove(str(firmware_dir()))


def test_desktop_encodes_the_vectors() -> None:
    assert improv.rpc(Rpc.REQUEST_STATE) == REQUEST_STATE + b"\n"
    payload = improv.wifi_settings("MyWirelessAP", "mysecurepassword")
    assert improv.rpc(Rpc.SEND_WIFI, payload) == WIFI_SETTINGS + b"\n"
    assert improv.setup_request("status") == SETUP_STATUS + b"\n"


def test_device_encodes_the_vectors(device_improv) -> None:
    assert device_improv.encode(device_improv.IMPROV, 0x01, b"\x04") == STATE_PROVISIONED + b"\n"
    assert device_improv.encode(device_improv.IMPROV, 0x02, b"\x03") == (
        ERROR_UNABLE_TO_CONNECT + b"\n"
    )
    assert device_improv.encode(device_improv.SETUP, 0x01, b'{"cmd": "status"}') == (
        SETUP_STATUS + b"\n"
    )


def test_device_reader_takes_frames_between_log_noise(device_improv) -> None:
    reader = device_improv.FrameReader(256)
    got = [reader.feed(b) for b in b"I log\nIMPRO" + b"x" + WIFI_SETTINGS + SETUP_STATUS]
    frames = [f for f in got if f is not None]
    assert frames == [
        (device_improv.IMPROV, ImprovType.RPC, WIFI_SETTINGS[9:-1]),
        (device_improv.SETUP, 0x01, b'{"cmd": "status"}'),
    ]


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (REQUEST_STATE[:-1] + b"\x00", "checksum"),  # bad checksum
        (REQUEST_STATE[:6] + b"\x02" + REQUEST_STATE[7:], "malformed"),  # version 2
        (SETUP_STATUS[:8] + b"\x10\x00" + SETUP_STATUS[10:], "malformed"),  # 4 KB > buffer
    ],
)
def test_device_reader_drops_bad_frames(device_improv, frame: bytes, expected: str) -> None:
    reader = device_improv.FrameReader(256)
    results = [r for r in (reader.feed(b) for b in frame) if r is not None]
    code = {
        "checksum": device_improv.DROPPED_CHECKSUM,
        "malformed": device_improv.DROPPED_MALFORMED,
    }
    assert results[0][1:] == (code[expected], None)
    assert reader.pending() is None  # ready for the next frame


def test_splitter_separates_frames_from_log_lines() -> None:
    splitter = StreamSplitter()
    stream = b"I boot\nW wifi down\n" + STATE_PROVISIONED + b"\n" + DEVICE_INFO_RESULT + b"\nE x\n"
    out: list[Frame | str] = []
    for i in range(0, len(stream), 5):  # as a serial port delivers it: in pieces
        out += splitter.feed(stream[i : i + 5])
    assert out[:2] == ["I boot", "W wifi down"]
    assert out[2] == Frame(improv.IMPROV, ImprovType.CURRENT_STATE, b"\x04")
    assert isinstance(out[3], Frame) and out[3].kind == ImprovType.RPC_RESULT
    assert improv.rpc_strings(out[3].data) == ["drsagent", "0.1.0", "linux", "VB-1"]
    assert out[4:] == ["E x"]


def test_splitter_flags_a_bad_checksum() -> None:
    (frame,) = StreamSplitter().feed(ERROR_UNABLE_TO_CONNECT[:-1] + b"\xff\n")
    assert isinstance(frame, Frame) and not frame.valid


@pytest.mark.parametrize(
    ("ssid", "password", "message"),
    [
        ("x" * 33, "pw", "the SSID is 33 bytes; Wi-Fi allows 32"),
        ("home", "p" * 64, "the password is 64 bytes; Wi-Fi allows 63"),
        ("é" * 17, "pw", "the SSID is 34 bytes"),  # bytes, not characters
        ("", "pw", "the SSID is empty"),
    ],
)
def test_wifi_limits_on_the_desktop(ssid: str, password: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        improv.wifi_settings(ssid, password)
    improv.wifi_settings("x" * 32, "p" * 63)  # the limits themselves are fine
