"""Fault injection for device-facing routes.

Kinds (armed through ``POST /_emulator/faults``):

* ``status``: answer ``status`` with an Amazon-looking error body.
* ``hang``: hold the request until ``POST /_emulator/faults/release`` (then answer
  normally), until the client goes away (then answer nothing) or until the server shuts
  down (then answer 503 in the service's error shape). No wall-time sleeps.
* ``drop``: send the status line and headers with a Content-Length larger than the
  part of the body that follows, then close the connection: the client sees a
  truncated response.
* ``malformed``: answer 200 with a body that is not valid JSON.

With ``after`` the real handler runs first (its effects are committed) and the fault
then replaces the real answer (for ``hang``: the real answer follows the release).
"""

import asyncio
import enum
import logging
from collections.abc import Callable

from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from . import ids
from .errors import LwaError, MessageError, ServiceError, reason_phrase
from .store import Fault

ROUTES = (
    "token",
    "replenish",
    "getOrderInfo",
    "slotStatus",
    "deviceStatus",
    "subscriptionInfo",
    "registration",
    "testOrders",
    "*",
)
KINDS = ("status", "hang", "drop", "malformed")

_DRS_ERROR_TYPES = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    429: "ThrottlingException",
    503: "ServiceUnavailableException",
}
_LWA_ERRORS = {
    400: "invalid_request",
    401: "invalid_client",
    429: "temporarily_unavailable",
    503: "temporarily_unavailable",
}


class ConnectionDropped(Exception):
    """Raised after a deliberately truncated response so the server closes the socket."""

    def __init__(self, status: int) -> None:
        super().__init__(f"connection dropped after a {status} head")
        self.status = status


class DroppedConnectionFilter(logging.Filter):
    """Keep the server's "Exception in ASGI application" record quiet for deliberate drops."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Return False for records caused by :class:`ConnectionDropped`."""
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionDropped))


def amazon_error(route: str, status: int) -> ServiceError:
    """Return an error shaped like the real service behind ``route``."""
    if route == "token":
        error = _LWA_ERRORS.get(status, "server_error" if status >= 500 else "invalid_request")
        return LwaError(status, error, reason_phrase(status))
    error_type = _DRS_ERROR_TYPES.get(status, "InternalFailure" if status >= 500 else "Error")
    return MessageError(status, reason_phrase(status), error_type)


class Held(enum.Enum):
    """How a held request's wait ended."""

    RELEASED = "released"
    CLIENT_GONE = "client gone"
    SHUTDOWN = "shutdown"


class FaultGate:
    """Where ``hang`` faults wait; :meth:`release` lets every waiting request go on."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None
        self._shutting_down = False
        self.holding = 0

    async def hold(self, receive: Receive) -> Held:
        """Wait for a release, a shutdown or the client's disconnect; say which came first."""
        if self._shutting_down:
            return Held.SHUTDOWN
        if self._event is None:
            self._event = asyncio.Event()
        released = asyncio.ensure_future(self._event.wait())
        gone = asyncio.ensure_future(_until_disconnect(receive))
        self.holding += 1
        try:
            await asyncio.wait({released, gone}, return_when=asyncio.FIRST_COMPLETED)
            if gone.done():
                return Held.CLIENT_GONE
            return Held.SHUTDOWN if self._shutting_down else Held.RELEASED
        finally:
            self.holding -= 1
            released.cancel()
            gone.cancel()

    def release(self) -> int:
        """Release every held request (call on the server's loop); return how many."""
        held = self.holding
        if self._event is not None:
            self._event.set()
            self._event = None
        return held

    def shut_down(self) -> None:
        """Answer every held request, and any later one, with a 503 (the server is stopping)."""
        self._shutting_down = True
        self.release()


async def _until_disconnect(receive: Receive) -> None:
    """Return once the client has gone away (the request body was already read)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _drop(response: Response, send: Send) -> None:
    """Send the head with an inflated Content-Length and half the body, then abort."""
    body = bytes(response.body)
    headers = [(k, v) for k, v in response.raw_headers if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(body) + 64).encode()))
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
    raise ConnectionDropped(response.status_code)


def _malformed(response: Response) -> Response:
    """Return a 200 whose body starts like the real one but is not JSON."""
    body = bytes(response.body)
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    return Response(body[: len(body) // 2] + b"<!-- upstream error -->", 200, headers)


async def misbehave(
    fault: Fault,
    route: str,
    produce: Callable[[], Response],
    gate: FaultGate,
    scope: Scope,
    receive: Receive,
    send: Send,
) -> int | None:
    """Answer a request under ``fault``; return the status sent (None if none was).

    A ``drop`` ends by raising :class:`ConnectionDropped` (carrying the status sent).
    """
    real = produce() if fault.after else None
    if fault.kind == "hang":
        held = await gate.hold(receive)
        if held is Held.CLIENT_GONE:
            return None
        if held is Held.SHUTDOWN:
            response = amazon_error(route, 503).response(ids.request_id_of(scope))
        else:
            response = real if real is not None else produce()
    elif fault.kind == "status":
        response = amazon_error(route, fault.status).response(ids.request_id_of(scope))
    else:
        base = real if real is not None else JSONResponse({"message": "Service response"})
        if fault.kind == "drop":
            await _drop(base, send)
        response = _malformed(base)
    await response(scope, receive, send)
    return response.status_code
