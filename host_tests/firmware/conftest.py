"""Fixtures for the firmware tests: the MicroPython runner,
a scripted local HTTP(S) server that records requests, and a local test CA."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from drsctl.firmware import compiled_firmware
from script_server import FIRMWARE, MICROPYTHON, ScriptServer

from host_tests.fakes import FakeClock

# -- TLS material --------------------------------------------------------------------


@pytest.fixture(scope="session")
def tls_material(tmp_path_factory) -> dict:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    other = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    d = tmp_path_factory.mktemp("tls")
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    other.cert_pem.write_to_path(str(d / "other.pem"))
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    return {
        "ca_pem": ca.cert_pem.bytes(),
        "other_pem": other.cert_pem.bytes(),
        # A bundle with an unrelated root first, like a real multi-root bundle.
        "bundle_pem": other.cert_pem.bytes() + ca.cert_pem.bytes(),
        "ca_path": d / "ca.pem",
        "server_ctx": server_ctx,
    }


@pytest.fixture
def server() -> Iterator[ScriptServer]:
    s = ScriptServer().start()
    yield s
    s.stop()


@pytest.fixture
def tls_server(tls_material) -> Iterator[ScriptServer]:
    s = ScriptServer(tls=tls_material["server_ctx"]).start()
    yield s
    s.stop()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections (kernel backlog) but never answers."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    yield ls.getsockname()[1]
    ls.close()


# -- MicroPython runner ----------------------------------------------------------------


# The communication and storage layers (and what they import).
@pytest.fixture(scope="session")
def mpy_compiled() -> Path:
    """The firmware precompiled with mpy-cross, as deployed to a device (shared tree)."""
    if not (MICROPYTHON.parent / "mpy-cross").exists():
        pytest.skip("mpy-cross not installed")
    return compiled_firmware()


@pytest.fixture
def mpy(tmp_path, request) -> Callable[..., str]:
    """Run a snippet under the MicroPython unix binary; return its stdout.

    cwd is the flash root (a fresh temp dir unless given); MICROPYPATH is the
    firmware dir only, as on a device without extra frozen modules
    (compiled=True: the mpy-cross output instead of the sources).
    """
    if not MICROPYTHON.exists():
        pytest.skip("MicroPython unix binary not installed")

    def run(
        code: str,
        cwd: Path | None = None,
        heap: str | None = None,
        frozen: bool = False,
        timeout: float = 60,
        expect_rc: int = 0,
        compiled: bool = False,
    ) -> str:
        script = tmp_path / "snippet.py"
        script.write_text(textwrap.dedent(code))
        env = dict(os.environ)
        root = request.getfixturevalue("mpy_compiled") if compiled else FIRMWARE
        env["MICROPYPATH"] = str(root) + (":.frozen" if frozen else "")
        cmd = [str(MICROPYTHON)]
        if heap:
            cmd += ["-X", "heapsize=" + heap]
        cmd.append(str(script))
        p = subprocess.run(
            cmd,
            cwd=str(cwd or tmp_path),
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if p.returncode != expect_rc:
            pytest.fail(
                f"micropython exited {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
            )
        return p.stdout

    return run


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def captured_log() -> Iterator[list[str]]:
    from drsagent import log

    lines: list[str] = []
    log.set_log_sink(lines.append)
    yield lines
    log.set_log_sink(None)
