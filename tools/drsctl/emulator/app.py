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

from . import control, drs, lwa
from .faults import ConnectionDropped, FaultGate
from .gateway import ApiError, BodyLimit, DeviceRoute
from .store import Store

log = logging.getLogger(__name__)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"message": exc.detail}, exc.status_code, exc.headers)


async def _internal_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, ConnectionDropped):  # a drop fault: the head is already sent
        log.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.url.path)
    return JSONResponse({"message": "Internal server error"}, 500)


def build_app(store: Store) -> Starlette:
    """Return the emulator application serving ``store``."""
    routes = [
        Route("/auth/o2/token", DeviceRoute("token", lwa.token_endpoint), methods=["POST"]),
        *(Route(e.path, DeviceRoute(e.name, e), methods=[e.method]) for e in drs.ENDPOINTS),
        *control.ROUTES,
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(BodyLimit)],
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
    )
    app.state.store = store
    app.state.gate = FaultGate()
    return app
