"""Running the emulator as a process: Ctrl-C while a ``hang`` fault holds a request."""

import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

_SERVE = """
import sys
from drsctl.emulator.server import serve
try:
    serve("127.0.0.1", int(sys.argv[1]), sys.argv[2])
except KeyboardInterrupt:  # uvicorn re-raises the SIGINT it handled; the CLI exits on it
    pass
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(predicate, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/_emulator/clock", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_ctrl_c_answers_held_requests_and_exits_quietly(tmp_path: Path) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVE, str(port), str(tmp_path / "db.sqlite3")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait(lambda: _answers(url), "the emulator to start")
        with httpx.Client(base_url=url, timeout=10) as http:
            armed = http.post("/_emulator/faults", json={"route": "*", "kind": "hang", "count": 2})
            assert armed.status_code == 200
            with ThreadPoolExecutor(2) as pool:
                held_drs = pool.submit(httpx.post, url + "/replenish/a", timeout=10)
                held_lwa = pool.submit(httpx.post, url + "/auth/o2/token", timeout=10)
                holding = lambda: http.get("/_emulator/faults").json()["holding"] == 2  # noqa: E731
                _wait(holding, "both requests to be held")
                server.send_signal(signal.SIGINT)
                drs, lwa = held_drs.result(timeout=10), held_lwa.result(timeout=10)
        _, stderr = server.communicate(timeout=10)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert server.returncode == 0, stderr
    assert drs.status_code == 503 and drs.json() == {"message": "Service Unavailable"}
    assert drs.headers["x-amzn-ErrorType"] == "ServiceUnavailableException"
    assert lwa.status_code == 503 and lwa.json()["error"] == "temporarily_unavailable"
    for noise in ("Traceback", "CancelledError", "Exception in ASGI application", "Cancel "):
        assert noise not in stderr, stderr
