# Serial frames of the setup console (docs/provisioning.md), device side.
#
# Improv Wi-Fi serial: b"IMPROV", version 1, type, length (1 byte), data, checksum
# (low byte of the sum of every preceding byte, header included), then a newline.
# Our own setup frames use the same layout under the header b"DRSCFG" with a 2-byte
# big-endian length, because a slot list does not fit in 255 bytes.
# Loaded only by the console (setup and idle waits), never by the agent loop.
from drsagent.compat import const

IMPROV = b"IMPROV"
SETUP = b"DRSCFG"
_VERSION = const(1)
_HEADER_LEN = const(6)

# Improv frame types
TYPE_STATE = const(0x01)
TYPE_ERROR = const(0x02)
TYPE_RPC = const(0x03)
TYPE_RESULT = const(0x04)
# Setup frame types
TYPE_REQUEST = const(0x01)
TYPE_REPLY = const(0x02)

# What feed() reports besides a frame
DROPPED_CHECKSUM = const(1)  # a whole frame whose checksum is wrong
DROPPED_MALFORMED = const(2)  # wrong version, or longer than the buffer


def encode(header, kind, data):
    """One frame (bytes, newline included) of `header` with frame type `kind`."""
    n = len(data)
    frame = bytearray(header)
    frame.append(_VERSION)
    frame.append(kind)
    if header == SETUP:
        frame.append(n >> 8)
    frame.append(n & 0xFF)
    frame.extend(data)
    frame.append(sum(frame) & 0xFF)
    frame.append(10)
    return bytes(frame)


class FrameReader:
    """Collects frames byte by byte into one buffer allocated up front.

    feed(b) returns None while a frame is incomplete or the byte is not part of a
    frame, (header, type, data) for a complete frame, or (header, DROPPED_*, None)
    for a frame it had to drop. `header` tells the caller whom to answer."""

    def __init__(self, size):
        self.buf = bytearray(size)
        self.size = size
        self.n = 0
        self.header = None
        self.need = -1  # total frame length once the length byte(s) are in

    def pending(self):
        """The header of a frame being collected (None: between frames)."""
        return self.header if self.n else None

    def drop(self):
        self.n = 0
        self.header = None
        self.need = -1

    def feed(self, b):
        buf = self.buf
        n = self.n
        if n < _HEADER_LEN:
            if n == 0:
                if b == IMPROV[0]:
                    self.header = IMPROV
                elif b == SETUP[0]:
                    self.header = SETUP
                else:
                    return None  # log echo, line ends, noise
            elif b != self.header[n]:
                self.drop()
                return self.feed(b) if b in (IMPROV[0], SETUP[0]) else None
            buf[n] = b
            self.n = n + 1
            return None
        header = self.header
        if n >= self.size:
            self.drop()
            return (header, DROPPED_MALFORMED, None)
        buf[n] = b
        n += 1
        self.n = n
        if n == _HEADER_LEN + 1 and b != _VERSION:
            self.drop()
            return (header, DROPPED_MALFORMED, None)
        long_length = header == SETUP
        if self.need < 0:
            if n == _HEADER_LEN + 3 + long_length:
                if long_length:
                    length = (buf[_HEADER_LEN + 2] << 8) | b
                else:
                    length = b
                self.need = n + length + 1  # data, then the checksum byte
                if self.need > self.size:
                    self.drop()
                    return (header, DROPPED_MALFORMED, None)
            return None
        if n < self.need:
            return None
        kind = buf[_HEADER_LEN + 1]
        ok = sum(memoryview(buf)[: n - 1]) & 0xFF == b
        start = _HEADER_LEN + 3 + long_length
        data = bytes(buf[start : n - 1])
        self.drop()
        if not ok:
            return (header, DROPPED_CHECKSUM, None)
        return (header, kind, data)
