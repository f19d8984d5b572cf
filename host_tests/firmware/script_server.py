"""A scripted local HTTP(S) server that records requests, the raw HTTP replies it
sends, and where the MicroPython binary is (the firmware tests run on both runtimes).
"""

from __future__ import annotations

import shutil
import socket
import ssl
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import pytest

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"

MICROPYTHON = Path(sys.executable).parent / "micropython"
if not MICROPYTHON.exists():
    MICROPYTHON = Path(shutil.which("micropython") or MICROPYTHON)

needs_micropython = pytest.mark.skipif(
    not MICROPYTHON.exists(), reason="MicroPython unix binary not installed"
)


# -- raw HTTP replies --------------------------------------------------------------


def reply(
    status: int = 200,
    body: bytes | str = b"",
    headers: dict[str, str] | None = None,
    reason: str = "OK",
) -> bytes:
    """A complete response with Content-Length."""
    if isinstance(body, str):
        body = body.encode()
    head = [f"HTTP/1.1 {status} {reason}"]
    for k, v in (headers or {}).items():
        head.append(f"{k}: {v}")
    head.append(f"Content-Length: {len(body)}")
    head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def json_reply(status: int = 200, obj: object = None, headers: dict[str, str] | None = None):
    import json

    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    return reply(status, json.dumps(obj).encode(), h)


def chunked_reply(chunks: list[bytes], status: int = 200) -> bytes:
    out = [f"HTTP/1.1 {status} OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"]
    data = out[0].encode()
    for c in chunks:
        data += b"%x;ext=1\r\n" % len(c) + c + b"\r\n"
    return data + b"0\r\n\r\n"


def to_close_reply(body: bytes, status: int = 200) -> bytes:
    """No Content-Length, no chunking: the body ends when the server closes."""
    return f"HTTP/1.1 {status} OK\r\nConnection: close\r\n\r\n".encode() + body


HANG = "hang"  # scripted action: accept, read the request, never answer


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    raw_head: bytes = b""


@dataclass
class ScriptServer:
    """A one-connection-at-a-time HTTP(S) server that replies from a script.

    Each scripted entry is raw bytes (sent, then the connection is closed), a
    callable(Recorded) -> bytes, or HANG. Requests are recorded in order.
    """

    tls: ssl.SSLContext | None = None
    host: str = "127.0.0.1"
    requests: list[Recorded] = field(default_factory=list)
    script: deque = field(default_factory=deque)
    tls_errors: list[str] = field(default_factory=list)

    def start(self) -> ScriptServer:
        self._stop = threading.Event()
        self._ls = socket.socket()
        self._ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._ls.bind((self.host, 0))
        self._ls.listen(4)
        self._ls.settimeout(0.1)
        self.port = self._ls.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._ls.close()

    @property
    def url(self) -> str:
        if self.tls:
            return f"https://localhost:{self.port}"
        return f"http://{self.host}:{self.port}"

    def add(self, *entries) -> None:
        self.script.extend(entries)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._ls.accept()
            except (TimeoutError, OSError):
                continue
            try:
                self._handle(conn)
            except Exception as e:  # keep serving; the client side asserts
                self.tls_errors.append(f"{type(e).__name__}: {e}")
            finally:
                try:
                    conn.close()
                except OSError:
                    pass

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        if self.tls:
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError) as e:
                self.tls_errors.append(str(e))
                return
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        while len(body) < n:
            chunk = conn.recv(4096)
            if not chunk:
                break
            body += chunk
        rec = Recorded(method, path, headers, body, head)
        self.requests.append(rec)
        action = self.script.popleft() if self.script else reply(500, b'{"message":"unscripted"}')
        if action == HANG:
            self._stop.wait(10)
            return
        if callable(action):
            action = action(rec)
        conn.sendall(action)
        if self.tls:
            try:
                conn.unwrap()
            except (ssl.SSLError, OSError):
                pass
