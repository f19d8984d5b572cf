"""The setup console's frames, desktop side (docs/provisioning.md).

Improv Wi-Fi serial: ``IMPROV``, version 1, type, length (1 byte), data, checksum (the
low byte of the sum of every preceding byte, header included), then a newline. Our
setup frames have the same layout under ``DRSCFG`` with a 2-byte big-endian length
and a JSON body. :class:`StreamSplitter` separates frames from the log lines that
share the port.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

IMPROV = b"IMPROV"
SETUP = b"DRSCFG"
VERSION = 1
SSID_MAX = 32
PASSWORD_MAX = 63
_LONG_LENGTH = {IMPROV: False, SETUP: True}
_LONGEST_LINE = 4096


class ImprovType(IntEnum):
    """Improv frame types."""

    CURRENT_STATE = 0x01
    ERROR_STATE = 0x02
    RPC = 0x03
    RPC_RESULT = 0x04


class SetupType(IntEnum):
    """Setup frame types."""

    REQUEST = 0x01
    REPLY = 0x02


class Rpc(IntEnum):
    """Improv RPC commands."""

    SEND_WIFI = 0x01
    REQUEST_STATE = 0x02
    DEVICE_INFO = 0x03
    SCAN = 0x04


class ImprovState(IntEnum):
    """Improv current states."""

    AUTHORIZATION_REQUIRED = 0x01
    AUTHORIZED = 0x02
    PROVISIONING = 0x03
    PROVISIONED = 0x04


class ImprovError(IntEnum):
    """Improv error states."""

    NONE = 0x00
    INVALID_RPC = 0x01
    UNKNOWN_RPC = 0x02
    UNABLE_TO_CONNECT = 0x03
    UNKNOWN = 0xFF


@dataclass(frozen=True)
class Frame:
    """One frame read from the port; ``valid`` is False for a bad checksum."""

    header: bytes
    kind: int
    data: bytes
    valid: bool = True


def checksum(data: bytes) -> int:
    """Improv's checksum: the low byte of the sum of every byte given."""
    return sum(data) & 0xFF


def encode(header: bytes, kind: int, data: bytes) -> bytes:
    """A whole frame, checksum and newline included."""
    limit = 0xFFFF if _LONG_LENGTH[header] else 0xFF
    if len(data) > limit:
        raise ValueError(f"frame data too long: {len(data)} bytes (at most {limit})")
    length = len(data).to_bytes(2 if _LONG_LENGTH[header] else 1, "big")
    body = header + bytes((VERSION, kind)) + length + data
    return body + bytes((checksum(body), 0x0A))


def rpc(command: int, payload: bytes = b"") -> bytes:
    """An Improv RPC frame: command, payload length, payload."""
    if len(payload) > 0xFF:
        raise ValueError("Improv RPC payload too long")
    return encode(IMPROV, ImprovType.RPC, bytes((command, len(payload))) + payload)


def wifi_settings(ssid: str, password: str) -> bytes:
    """The 'send Wi-Fi settings' payload; ValueError naming the limit it breaks."""
    ssid_bytes, password_bytes = ssid.encode(), password.encode()
    if not ssid_bytes:
        raise ValueError("the SSID is empty")
    if len(ssid_bytes) > SSID_MAX:
        raise ValueError(f"the SSID is {len(ssid_bytes)} bytes; Wi-Fi allows {SSID_MAX}")
    if len(password_bytes) > PASSWORD_MAX:
        raise ValueError(
            f"the password is {len(password_bytes)} bytes; Wi-Fi allows {PASSWORD_MAX}"
        )
    return bytes((len(ssid_bytes),)) + ssid_bytes + bytes((len(password_bytes),)) + password_bytes


def rpc_strings(data: bytes) -> list[str]:
    """The strings of an RPC result frame's data (command, length, then strings)."""
    strings, i, end = [], 2, min(len(data), 2 + (data[1] if len(data) > 1 else 0))
    while i < end:
        n = data[i]
        strings.append(data[i + 1 : i + 1 + n].decode(errors="replace"))
        i += 1 + n
    return strings


def setup_request(command: str, **fields: Any) -> bytes:
    """A setup request frame: ``{"cmd": command, **fields}`` as JSON."""
    return encode(SETUP, SetupType.REQUEST, json.dumps({"cmd": command, **fields}).encode())


class StreamSplitter:
    """Splits what a device writes into frames and text lines (its log)."""

    def __init__(self) -> None:
        self._buffer = b""

    def _frame_start(self) -> int:
        starts = [i for i in (self._buffer.find(IMPROV), self._buffer.find(SETUP)) if i >= 0]
        return min(starts) if starts else -1

    def feed(self, data: bytes) -> list[Frame | str]:
        """Everything complete in the bytes so far, in order."""
        self._buffer += data
        out: list[Frame | str] = []
        while self._buffer:
            start = self._frame_start()
            text_end = start if start >= 0 else len(self._buffer)
            newline = self._buffer.rfind(b"\n", 0, text_end)
            if newline >= 0:  # whole log lines before the next frame
                for line in self._buffer[:newline].split(b"\n"):
                    if line.rstrip(b"\r"):  # a frame's closing newline is no log line
                        out.append(line.rstrip(b"\r").decode(errors="replace"))
                self._buffer = self._buffer[newline + 1 :]
                continue
            if start < 0:  # a line (or a header) still arriving
                if len(self._buffer) > _LONGEST_LINE:  # an endless line: flush it as text
                    out.append(self._buffer.decode(errors="replace"))
                    self._buffer = b""
                return out
            if start > 0:  # text before a frame on the same line (no newline yet)
                out.append(self._buffer[:start].decode(errors="replace"))
                self._buffer = self._buffer[start:]
            frame, used = self._parse(self._buffer)
            if frame is None:
                return out  # incomplete: wait for more
            out.append(frame)
            self._buffer = self._buffer[used:].removeprefix(b"\n")
        return out

    @staticmethod
    def _parse(buffer: bytes) -> tuple[Frame | None, int]:
        header = buffer[:6]
        long_length = _LONG_LENGTH[header]
        fixed = 6 + 2 + (2 if long_length else 1)
        if len(buffer) < fixed:
            return None, 0
        length = int.from_bytes(buffer[8:fixed], "big")
        total = fixed + length + 1
        if len(buffer) < total:
            return None, 0
        body = buffer[: total - 1]
        valid = checksum(body) == buffer[total - 1] and buffer[6] == VERSION
        return Frame(header, buffer[7], buffer[fixed : total - 1], valid), total
