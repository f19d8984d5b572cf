"""The HTTP edge shared by every route: JSON errors, body limits, device-facing routes.

A device-facing route (LwA and DRS) is a :class:`DeviceRoute`: it resolves the bearer
token (once, for both the log's ``device_id`` and the DRS checks), logs the request
(method, path, status; never headers or bodies, so no token or secret reaches the log),
applies an armed fault, runs a synchronous handler on a :class:`Call` and turns
:class:`ApiError` or any unexpected exception into a JSON response.
"""

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import faults, ids, inputs
from .store import Store, Token, Tx

MAX_BODY = 64 * 1024

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answer: status, JSON body and extra headers."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = headers or {}

    def response(self) -> Response:
        """Return the error as a JSON response."""
        return JSONResponse(self.body, status_code=self.status, headers=self.headers)


def bad_request(message: str, status: int = 400) -> ApiError:
    """Return a plain ``{"message": ...}`` error (control API and generic edge errors)."""
    return ApiError(status, {"message": message})


def parse_json(body: bytes) -> Any:
    """Decode a JSON request body (:func:`.inputs.load_json`) or raise a 400 :class:`ApiError`."""
    try:
        return inputs.load_json(body)
    except inputs.InputError as exc:
        raise bad_request(f"Request body is not valid JSON: {exc}") from None


@dataclasses.dataclass
class Call:
    """One device-facing request as handlers see it (body already read)."""

    request: Request
    body: bytes
    store: Store
    token: Token | None = None
    device_id: str | None = None

    @property
    def params(self) -> dict[str, str]:
        """Return the path parameters."""
        return self.request.path_params


Handler = Callable[[Call], Response]


def bearer_token(tx: Tx, authorization: str | None) -> Token | None:
    """Return the stored token named by an ``Authorization: Bearer …`` header, if any."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return tx.token(ids.digest(value.strip()))


class DeviceRoute:
    """ASGI endpoint for one device-facing route: request log, faults, errors."""

    def __init__(self, name: str, handler: Handler) -> None:
        """Wrap ``handler`` as the route called ``name`` (the fault route name)."""
        self.name = name
        self.handler = handler

    def _run(self, call: Call) -> Response:
        """Run the handler; map errors to responses, never leaking a traceback."""
        try:
            return self.handler(call)
        except ApiError as err:
            return err.response()
        except Exception:
            log.exception("unexpected error in route %s", self.name)
            return faults.amazon_error(self.name, 500)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request."""
        request = Request(scope, receive)
        store: Store = request.app.state.store
        gate: faults.FaultGate = request.app.state.gate
        call = Call(request, await request.body(), store)
        with store.tx() as tx:
            call.token = bearer_token(tx, request.headers.get("authorization"))
            call.device_id = call.token.device_id if call.token else None
            fault = tx.take_fault(self.name)
            entry = tx.log_request(tx.now(), request.method, request.url.path, self.name)
        status: int | None = None
        try:
            if fault is None:
                response = self._run(call)
                await response(scope, receive, send)
                status = response.status_code
            else:
                status = await faults.misbehave(
                    fault, self.name, lambda: self._run(call), gate, scope, receive, send
                )
        except faults.ConnectionDropped as dropped:
            status = dropped.status
            raise
        finally:
            with store.tx() as tx:
                tx.finish_request(entry, status, call.device_id, fault.kind if fault else None)


EdgeError = Callable[[str, int, str], Response]
"""``(path, status, message) -> Response``: an error answer shaped for the path's service."""


def _plain_error(path: str, status: int, message: str) -> Response:
    return bad_request(message, status).response()


class RequestId:
    """ASGI middleware: every answer carries ``x-amzn-RequestId`` (unless it has one)."""

    def __init__(self, app: ASGIApp) -> None:
        """Wrap ``app``."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Add the header to the response start message."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"x-amzn-requestid" for k, _ in headers):
                    headers.append((b"x-amzn-RequestId", ids.request_id().encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


class BodyLimit:
    """ASGI middleware: read the whole request body up front, refuse oversized ones (413)."""

    def __init__(
        self, app: ASGIApp, limit: int = MAX_BODY, error: EdgeError = _plain_error
    ) -> None:
        """Wrap ``app``; bodies above ``limit`` bytes are refused with ``error``."""
        self.app = app
        self.limit = limit
        self.error = error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Buffer the body, then hand the app a ``receive`` that replays it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = self.error(scope["path"], 413, f"Request body exceeds {self.limit} bytes")
        declared = dict(scope["headers"]).get(b"content-length", b"0").decode("latin-1")
        digits = declared.isascii() and declared.isdigit()
        if digits and inputs.ascii_uint(declared, self.limit) is None:  # more than the limit
            await too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)
