"""The Starlette application: the route table of every service behind one pipeline.

Unknown paths (404, a trailing slash included: no redirects), wrong methods (405),
oversized bodies (413) and unexpected exceptions (500) all answer in the error shape of
the service that owns the path (:func:`edge_error`), through :class:`.pipeline.Pipeline`.
"""

import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import control, drs, ids, lwa, mws, spapi
from .device_route import DeviceRoute, DeviceRoutes
from .errors import LwaError, MessageError, ServiceError, SpApiError
from .faults import ConnectionDropped, FaultGate
from .pipeline import Pipeline
from .store import Store

log = logging.getLogger(__name__)

_SPAPI_CODES = {404: "NotFound", 405: "MethodNotAllowed", 413: "RequestEntityTooLarge"}


def edge_error(path: str, status: int, message: str) -> ServiceError:
    """Return an error shaped like the service that owns ``path``.

    SP-API paths get ``{"errors": [...]}``, the MWS path an XML ``ErrorResponse``, the LwA
    token path ``{"error", "error_description"}``, every other path ``{"message": ...}``.
    """
    if path.startswith(spapi.PREFIXES):
        code = _SPAPI_CODES.get(status, "InternalFailure" if status >= 500 else "InvalidInput")
        return SpApiError(status, code, message)
    if path == mws.PATH or path.startswith(mws.PATH + "/"):
        return mws.edge_error(status, message)
    if path == lwa.PATH:
        return LwaError(status, "server_error" if status >= 500 else "invalid_request", message)
    return MessageError(status, message)


async def _service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    return exc.response(ids.request_id_of(request.scope))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error = edge_error(request.url.path, exc.status_code, str(exc.detail))
    error.headers.update(exc.headers or {})
    return error.response(ids.request_id_of(request.scope))


async def _last_resort(request: Request, exc: Exception) -> Response:
    """Answer an exception that got past the pipeline (only a ``drop`` fault's does)."""
    if not isinstance(exc, ConnectionDropped):
        log.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.url.path)
    return edge_error(request.url.path, 500, "Internal server error").response(
        ids.request_id_of(request.scope)
    )


def build_app(
    store: Store, access_log: bool = False, control_hosts: frozenset[str] = frozenset()
) -> Starlette:
    """Return the emulator application serving ``store``.

    ``access_log``: one line a request; ``control_hosts``: names besides the loopback
    ones the control API answers to.
    """
    gate = FaultGate()
    device_routes = [
        ("POST", lwa.PATH, DeviceRoute("token", lwa.token_endpoint, store, gate)),
        *((e.method, e.path, DeviceRoute(e.name, e, store, gate)) for e in drs.ENDPOINTS),
    ]
    # Starlette tries the routes in turn; the pipeline serves the device routes itself, so
    # the SP-API's come first (no path is shared: the order decides nothing else).
    routes = [
        *spapi.ROUTES,
        *(Route(path, route, methods=[method]) for method, path, route in device_routes),
        *control.ROUTES,
        *mws.ROUTES,
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                Pipeline,
                edge_error=edge_error,
                direct=DeviceRoutes(device_routes),
                access_log=access_log,
                control_hosts=control_hosts,
            )
        ],
        exception_handlers={
            ServiceError: _service_error,
            HTTPException: _http_error,
            Exception: _last_resort,
        },
    )
    app.router.redirect_slashes = False  # Amazon answers a trailing slash like any unknown path
    app.state.store = store
    app.state.gate = gate
    return app
