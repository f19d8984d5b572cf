"""Running the emulator: :func:`serve` (blocking) and :class:`EmulatorThread` (background).

Example::

    with EmulatorThread(tmp_path / "amazon.sqlite3", tls=True) as amazon:
        httpx.post(amazon.url + "/_emulator/provision", json={...}, verify=amazon.ca_pem_path)
"""

import logging
import socket
import sqlite3
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from .app import build_app
from .control.guard import is_loopback
from .faults import DroppedConnectionFilter
from .store import Store
from .tls import ensure_certs

_STARTUP_TIMEOUT_S = 10.0
_BACKLOG = 2048  # uvicorn's default
_DROP_FILTER = DroppedConnectionFilter()


class StartupError(RuntimeError):
    """The emulator cannot start (database, certificates, port).

    ``str()`` says why and what to do, in one line.
    """


def _listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (0: a free port); :class:`StartupError` if not."""
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets whose proto is TCP;
    # without it every keep-alive response waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except (OSError, OverflowError) as exc:
        sock.close()
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise StartupError(f"cannot listen on {host}:{port}: {reason}") from None
    sock.listen(_BACKLOG)  # from here on clients queue up: the banner may say "ready"
    return sock


def _open_store(db_path: str | Path) -> Store:
    """Open the emulator's database; :class:`StartupError` if it is not one."""
    try:
        return Store(db_path)
    except sqlite3.DatabaseError as exc:
        raise StartupError(
            f"{db_path} is not an emulator database ({exc}); give a new file name with --db"
        ) from None
    except OSError as exc:
        raise StartupError(f"cannot open {db_path}: {exc.strerror}") from None


def _config(app: Any, host: str, port: int, tls_dir: Path | None) -> uvicorn.Config:
    """Return a quiet uvicorn configuration (no access log, no global logging setup)."""
    logging.getLogger("uvicorn.error").addFilter(_DROP_FILTER)
    tls: dict[str, str] = {}
    if tls_dir is not None:
        certs = ensure_certs(tls_dir)
        tls = {"ssl_certfile": str(certs.server_pem), "ssl_keyfile": str(certs.server_key)}
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
        **tls,  # type: ignore[arg-type]
    )


def _print_access_log() -> None:
    """Send the pipeline's access-log lines (``drsctl.emulator.access``) to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("drsctl.emulator.access")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


class _Server(uvicorn.Server):
    """uvicorn's server that first answers the requests a ``hang`` fault holds when stopping.

    Without this, uvicorn waits for them, cancels them after its graceful timeout and logs
    "Exception in ASGI application ... CancelledError", and their clients get a plain 500.
    """

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Answer held requests with the service's 503, then shut down as uvicorn does."""
        self.config.app.state.gate.shut_down()
        await super().shutdown(sockets)


def _tls_dir(db_path: str | Path, tls: bool, tls_dir: str | Path | None) -> Path | None:
    """Return the certificate directory (default: ``tls`` next to the database) or None."""
    if not tls:
        return None
    return Path(tls_dir) if tls_dir is not None else Path(db_path).parent / "tls"


def serve(
    host: str,
    port: int,
    db_path: str | Path,
    tls: bool = False,
    tls_dir: str | Path | None = None,
    access_log: bool = False,
) -> None:
    """Serve the emulator until interrupted; :class:`StartupError` if it cannot start.

    The banner is printed once the port is bound, naming the port really bound (``port=0``
    picks a free one). With ``access_log`` each request is logged to stderr as one line
    (method, path without query, status, time, request id: never headers or bodies).
    """
    store = _open_store(db_path)
    if access_log:
        _print_access_log()
    # Bound to a reachable address, the control API answers to that name too, and says
    # out loud what that means.
    exposed = not is_loopback(host)
    control_hosts = frozenset({host} if exposed and host not in ("0.0.0.0", "::") else ())
    if exposed:
        print(
            f"WARNING: serving on {host}, not a loopback address: anyone who can reach it "
            "can register devices and read their client secrets and refresh tokens "
            "through /_emulator. Use it on a trusted network only.",
            file=sys.stderr,
        )
    try:
        certs = _tls_dir(db_path, tls, tls_dir)
        try:
            app = build_app(store, access_log=access_log, control_hosts=control_hosts)
            config = _config(app, host, port, certs)
        except OSError as exc:
            raise StartupError(f"cannot create the certificates in {certs}: {exc}") from None
        sock = _listening_socket(host, port)
        scheme = "https" if certs else "http"
        bound = sock.getsockname()[1]
        print(f"fake Amazon on {scheme}://{host}:{bound}  (state: {db_path})", file=sys.stderr)
        if certs:
            print(f"local CA: {certs / 'ca.pem'}  (give it to clients to verify)", file=sys.stderr)
        print("Ctrl-C to stop", file=sys.stderr, flush=True)
        _Server(config).run(sockets=[sock])
    finally:
        store.close()


class EmulatorThread:
    """The emulator on a free 127.0.0.1 port in a background thread (a context manager).

    Attributes once entered: ``url`` (``http://127.0.0.1:PORT`` or ``https://…``),
    ``ca_pem_path`` (CA bundle to verify against, None without TLS) and ``store``.
    """

    def __init__(
        self,
        db_path: str | Path,
        tls: bool = False,
        tls_dir: str | Path | None = None,
        access_log: bool = False,
    ) -> None:
        self.db_path = Path(db_path)
        self._tls_dir = _tls_dir(db_path, tls, tls_dir)
        self.store = Store(self.db_path)
        self.app = build_app(self.store, access_log=access_log)
        self.url = ""
        self.ca_pem_path: Path | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "EmulatorThread":
        """Start serving; return once the server accepts connections."""
        sock = _listening_socket("127.0.0.1", 0)
        port = sock.getsockname()[1]
        config = _config(self.app, "127.0.0.1", port, self._tls_dir)
        if self._tls_dir is not None:
            self.ca_pem_path = self._tls_dir / "ca.pem"
        self._server = _Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="drs-emulator", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + _STARTUP_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the emulator did not start")
            time.sleep(0.002)
        scheme = "https" if self._tls_dir is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        """Stop the server (held requests get a 503) and close the store."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join()
            self._server = self._thread = None
        self.store.close()

    def __enter__(self) -> "EmulatorThread":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
