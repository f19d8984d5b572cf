"""The one request pipeline every service's request goes through (ASGI middleware).

In order, for each HTTP request:

1. a request id is drawn and kept in ``scope["state"]["request_id"]`` (read it with
   :func:`.ids.request_id_of`); every answer carries it as ``x-amzn-RequestId`` unless the
   service already set that header;
2. the whole body is read up front; one over :data:`MAX_BODY` is read to its end (so a
   client that sent ``Connection: close`` is not reset mid-upload, which over TLS shows
   as ``EOF occurred in violation of protocol``) and then refused with a 413; a control
   request a web page could have sent is refused (:mod:`.control.guard`);
3. a :class:`.errors.ServiceError` that escapes a handler becomes the service's error
   answer; any other exception becomes the path's service 500, without traceback, and
   the connection stays usable;
4. with ``access_log`` one line per request goes to the ``drsctl.emulator.access``
   logger: method, path (never the query string, which can hold MWS signatures and
   keys), status, duration and request id; never headers or bodies.

Which service owns a path (and so the error shape of a 404, 405, 413 or 500) is the
``edge_error`` function the application passes in. The device-facing routes (``direct``,
a :class:`.device_route.DeviceRoutes`) are served straight from here, without the
application's router and middleware: they are the emulator's hot path.
"""

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import ids, inputs
from .control import guard
from .errors import ServiceError
from .faults import ConnectionDropped

MAX_BODY = 64 * 1024
MAX_DRAIN = 64 * 1024 * 1024
"""Most bytes of an oversized body read (and dropped) before answering 413."""

log = logging.getLogger(__name__)
_access_logger = logging.getLogger("drsctl.emulator.access")

EdgeError = Callable[[str, int, str], ServiceError]
"""``(path, status, message) -> ServiceError``: an error shaped for the path's service."""


class DirectRoute(Protocol):
    """A route served without the application: the body is read, the path matched."""

    def serve(
        self, scope: Scope, receive: Receive, send: Send, body: bytes, params: dict[str, str]
    ) -> Awaitable[None]:
        """Answer the request."""
        ...


class DirectRoutes(Protocol):
    """Finds the :class:`DirectRoute` of a method and path."""

    def match(self, method: str, path: str) -> tuple[DirectRoute, dict[str, str]] | None:
        """The route and its path parameters, or None (the application serves the request)."""
        ...


class Pipeline:
    """ASGI middleware running steps 1 to 4 of the module docstring around ``app``."""

    def __init__(
        self,
        app: ASGIApp,
        edge_error: EdgeError,
        direct: DirectRoutes | None = None,
        access_log: bool = False,
        limit: int = MAX_BODY,
        control_hosts: frozenset[str] = frozenset(),
    ) -> None:
        """Wrap ``app``; errors outside a service's handlers are shaped by ``edge_error``.

        Requests ``direct`` matches are served by its routes, not by ``app``. The control
        API answers to loopback names and ``control_hosts``.
        """
        self.app = app
        self.edge_error = edge_error
        self.direct = direct
        self.access_log = access_log
        self.limit = limit
        self.control_hosts = control_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request through the pipeline."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = ids.request_id()
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter() if self.access_log else 0.0
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.get("headers", [])
                for name, _ in headers:
                    if name.lower() == b"x-amzn-requestid":
                        break
                else:
                    headers = [*headers, (b"x-amzn-RequestId", rid.encode())]
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self._serve(scope, receive, send_with_id, rid, lambda: status is not None)
        finally:
            if self.access_log:
                _access_logger.info(
                    "%s %s %s %.1fms %s",
                    scope.get("method"),
                    scope["path"],
                    status if status is not None else "-",
                    (time.perf_counter() - started) * 1000,
                    rid,
                )

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, rid: str, answered: Callable[[], bool]
    ) -> None:
        """Read the body, run the application, answer what it raised."""
        body = await self._read_body(scope, receive)
        if body is None:  # oversized (answered below) or the client went away
            if not scope["state"].get("disconnected"):
                message = f"Request body exceeds {self.limit} bytes"
                error = self.edge_error(scope["path"], 413, message)
                await error.response(rid)(scope, receive, send)
            return
        if scope["path"].startswith(guard.PREFIX):
            refused = guard.refusal(scope, self.control_hosts)
            if refused is not None:
                await self.edge_error(scope["path"], *refused).response(rid)(scope, receive, send)
                return
        found = None if self.direct is None else self.direct.match(scope["method"], scope["path"])
        try:
            if found is not None:
                route, params = found
                await route.serve(scope, receive, send, body, params)
            else:
                await self.app(scope, _replay(body, receive), send)
        except ConnectionDropped:  # a drop fault: the head is already sent
            raise
        except ServiceError as err:
            if answered():
                raise
            await err.response(rid)(scope, receive, send)
        except Exception:
            if answered():
                raise
            log.exception("unexpected error on %s %s", scope.get("method"), scope["path"])
            error = self.edge_error(scope["path"], 500, "Internal server error")
            await error.response(rid)(scope, receive, send)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """Return the whole body, or None when it is oversized (drained) or the client left."""
        declared = None
        for name, value in scope["headers"]:  # the last one, as a dict of them would keep
            if name == b"content-length":
                declared = value.decode("latin-1")
        oversized = (
            declared is not None
            and declared.isascii()
            and declared.isdigit()
            and inputs.ascii_uint(declared, self.limit) is None
        )
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                scope["state"]["disconnected"] = True
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            oversized = oversized or size > self.limit
            if not oversized:
                chunks.append(chunk)
            if not message.get("more_body", False) or size > MAX_DRAIN:
                break
        return None if oversized else b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` for the application: the body read up front, then the client's messages."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
