"""The request pipeline: the 413 of an oversized body always arrives; the optional access log."""

import logging
import socket
import ssl
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from drsctl.emulator.pipeline import MAX_BODY
from drsctl.emulator.server import EmulatorThread


def _post_with_connection_close(url: str, ca_pem: Path, body: bytes) -> bytes:
    """POST ``body`` over TLS with ``Connection: close``; return all the server sent."""
    parts = urlsplit(url)
    context = ssl.create_default_context(cafile=str(ca_pem))
    head = (
        f"POST /replenish/toner HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    received = b""
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=parts.hostname) as tls:
            tls.sendall(head + body)
            while chunk := tls.recv(65536):
                received += chunk
    return received


@pytest.mark.parametrize("size", [MAX_BODY + 1, 4 * MAX_BODY, 1024 * 1024])
def test_an_oversized_body_over_tls_always_gets_the_413(tmp_path: Path, size: int) -> None:
    with EmulatorThread(tmp_path / "db.sqlite3", tls=True) as emulator:
        assert emulator.ca_pem_path is not None
        for _ in range(10):  # it failed intermittently: the client saw an EOF, no answer
            answer = _post_with_connection_close(emulator.url, emulator.ca_pem_path, b"x" * size)
            assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
            assert b'{"message":"Request body exceeds 65536 bytes"}' in answer


def test_the_access_log_is_off_by_default(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="drsctl.emulator.access"):
        with EmulatorThread(tmp_path / "db.sqlite3") as emulator:
            assert httpx.get(emulator.url + "/_emulator/clock").status_code == 200
    assert not [r for r in caplog.records if r.name == "drsctl.emulator.access"]


def test_the_access_log_names_requests_but_no_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "SECRETVALUE1234567890"
    with caplog.at_level(logging.INFO, logger="drsctl.emulator.access"):
        with EmulatorThread(tmp_path / "db.sqlite3", access_log=True) as emulator:
            with httpx.Client(base_url=emulator.url) as client:
                client.get("/_emulator/clock")
                client.get(
                    "/Orders/2013-09-01",
                    params={"AWSAccessKeyId": secret, "Signature": secret, "Action": "GetOrder"},
                )
                client.post(
                    "/auth/o2/token",
                    data={"grant_type": "refresh_token", "refresh_token": secret},
                    headers={"Authorization": f"Bearer {secret}"},
                )
                client.get("/orders/v0/orders", headers={"x-amz-access-token": secret})
    lines = [r.getMessage() for r in caplog.records if r.name == "drsctl.emulator.access"]
    assert len(lines) == 4
    assert lines[0].startswith("GET /_emulator/clock 200 ")
    assert lines[1].startswith("GET /Orders/2013-09-01 400 ")
    assert lines[2].startswith("POST /auth/o2/token 400 ")
    assert lines[3].startswith("GET /orders/v0/orders 403 ")
    assert not any(secret in line for line in lines)
