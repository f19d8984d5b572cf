"""The Starlette application: routes only, plus JSON answers for every edge case.

Unknown paths (404), wrong methods (405), oversized bodies (413) and unexpected
exceptions (500) all answer in the error shape of the path's service (``{"message": ...}``,
SP-API ``{"errors": [...]}`` or MWS XML) and carry ``x-amzn-RequestId``; no traceback ever
reaches a client.
"""

import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import control, drs, ids, lwa, mws, spapi
from .control_guard import ControlGuard
from .faults import ConnectionDropped, FaultGate
from .gateway import ApiError, BodyLimit, DeviceRoute, RequestId
from .store import Store

log = logging.getLogger(__name__)


_SPAPI_CODES = {404: "NotFound", 405: "MethodNotAllowed", 413: "RequestEntityTooLarge"}


def edge_error(
    path: str, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    """Return an error answer shaped like the service that owns ``path``.

    SP-API paths get ``{"errors": [...]}``, the MWS path an XML ``ErrorResponse``, every
    other path the emulator's ``{"message": ...}``. The answer always carries
    ``x-amzn-RequestId``: the 500 of an unexpected exception is sent by Starlette's
    outermost error middleware, past the :class:`RequestId` middleware.
    """
    response: Response
    if path.startswith(spapi.PREFIXES):
        code = _SPAPI_CODES.get(status, "InternalFailure" if status >= 500 else "InvalidInput")
        response = JSONResponse(spapi.error_body(status, code, message), status, headers)
    elif path == mws.PATH or path.startswith(mws.PATH + "/"):
        response = mws.body_error(status, message)  # has the id of its RequestID element
        response.headers.update(headers or {})
    else:
        response = JSONResponse({"message": message}, status, headers)
    if "x-amzn-requestid" not in response.headers:
        response.headers["x-amzn-RequestId"] = ids.request_id()
    return response


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return edge_error(request.url.path, exc.status_code, str(exc.detail), exc.headers)


async def _internal_error(request: Request, exc: Exception) -> Response:
    """Answer an exception that reached Starlette's outermost error middleware.

    A last resort: :class:`InternalErrors` normally answers first.
    """
    if not isinstance(exc, ConnectionDropped):  # a drop fault: the head is already sent
        log.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.url.path)
    return edge_error(request.url.path, 500, "Internal server error")


class InternalErrors:
    """ASGI middleware: an unexpected exception becomes the path's service 500 answer.

    It sits inside :class:`RequestId`, so the 500 carries ``x-amzn-RequestId`` like every
    other answer, and it does not re-raise, so the server keeps the connection open (an
    exception escaping the application makes uvicorn close it, and a keep-alive client's
    next request then fails). A ``drop`` fault's :class:`ConnectionDropped`, and any
    exception after the answer has started, still propagate.
    """

    def __init__(self, app: ASGIApp) -> None:
        """Wrap ``app``."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the application; answer a clean 500 if it fails before answering."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ConnectionDropped:
            raise
        except Exception:
            if started:
                raise
            log.exception("unexpected error on %s %s", scope.get("method"), scope["path"])
            await edge_error(scope["path"], 500, "Internal server error")(scope, receive, send)


def build_app(store: Store, control_hosts: tuple[str, ...] = ()) -> Starlette:
    """Return the emulator application serving ``store``.

    Its control API answers to loopback names and ``control_hosts``.
    """
    routes = [
        Route("/auth/o2/token", DeviceRoute("token", lwa.token_endpoint), methods=["POST"]),
        *(Route(e.path, DeviceRoute(e.name, e), methods=[e.method]) for e in drs.ENDPOINTS),
        *control.ROUTES,
        *spapi.ROUTES,
        *mws.ROUTES,
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(RequestId),
            Middleware(InternalErrors),
            Middleware(BodyLimit, error=edge_error),
            Middleware(ControlGuard, allowed_hosts=control_hosts),
        ],
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
    )
    app.state.store = store
    app.state.gate = FaultGate()
    return app
