"""The Starlette application: routes only, plus JSON answers for every edge case.

Unknown paths (404), wrong methods (405), oversized bodies (413) and unexpected
exceptions (500) all answer ``{"message": ...}``; no traceback ever reaches a client.
"""

import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import control, drs, lwa, mws, spapi
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
    other path the emulator's ``{"message": ...}``.
    """
    if path.startswith(spapi.PREFIXES):
        code = _SPAPI_CODES.get(status, "InternalFailure" if status >= 500 else "InvalidInput")
        return JSONResponse(spapi.error_body(status, code, message), status, headers)
    if path == mws.PATH or path.startswith(mws.PATH + "/"):
        response = mws.body_error(status, message)
        response.headers.update(headers or {})
        return response
    return JSONResponse({"message": message}, status, headers)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return edge_error(request.url.path, exc.status_code, str(exc.detail), exc.headers)


async def _internal_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, ConnectionDropped):  # a drop fault: the head is already sent
        log.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.url.path)
    return edge_error(request.url.path, 500, "Internal server error")


def build_app(store: Store) -> Starlette:
    """Return the emulator application serving ``store``."""
    routes = [
        Route("/auth/o2/token", DeviceRoute("token", lwa.token_endpoint), methods=["POST"]),
        *(Route(e.path, DeviceRoute(e.name, e), methods=[e.method]) for e in drs.ENDPOINTS),
        *control.ROUTES,
        *spapi.ROUTES,
        *mws.ROUTES,
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestId), Middleware(BodyLimit, error=edge_error)],
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
    )
    app.state.store = store
    app.state.gate = FaultGate()
    return app
