"""Faults (arm, list, clear, release held requests) and token expiry/revocation."""

from starlette.requests import Request
from starlette.responses import JSONResponse

from .. import faults
from ..store import Fault
from .body import MAX_QUANTITY, bad_request, device_or_404, field, int_field, json_object, store_of


async def add_fault(request: Request) -> JSONResponse:
    """Arm a fault for the next ``count`` calls of a device-facing route."""
    body = await json_object(request)
    route = field(body, "route", str)
    kind = field(body, "kind", str)
    if route not in faults.ROUTES:
        raise bad_request(f"Unknown route {route!r}; one of {', '.join(faults.ROUTES)}")
    if kind not in faults.KINDS:
        raise bad_request(f"Unknown kind {kind!r}; one of {', '.join(faults.KINDS)}")
    count = int_field(body, "count", 1, MAX_QUANTITY, 1)
    status = int_field(body, "status", 400, 599, 500)
    with store_of(request).tx() as tx:
        fault_id = tx.insert_fault(
            Fault(route, kind, status, count, field(body, "after", bool, False), tx.now())
        )
    return JSONResponse({"fault_id": fault_id})


async def list_faults(request: Request) -> JSONResponse:
    """List armed faults and how many requests a ``hang`` holds right now."""
    with store_of(request).tx() as tx:
        armed = tx.faults()
    return JSONResponse(
        {
            "faults": [
                {
                    "fault_id": f.fault_id,
                    "route": f.route,
                    "kind": f.kind,
                    "status": f.status,
                    "remaining": f.remaining,
                    "after": f.after,
                }
                for f in armed
            ],
            "holding": request.app.state.gate.holding,
        }
    )


async def clear_faults(request: Request) -> JSONResponse:
    """Disarm every fault (held requests stay held until released)."""
    with store_of(request).tx() as tx:
        return JSONResponse({"cleared": tx.clear_faults()})


async def release_faults(request: Request) -> JSONResponse:
    """Let every request held by a ``hang`` fault go on."""
    return JSONResponse({"released": request.app.state.gate.release()})


async def expire_tokens(request: Request) -> JSONResponse:
    """Expire a device's access tokens now."""
    body = await json_object(request)
    with store_of(request).tx() as tx:
        device = device_or_404(tx, field(body, "device_id", str))
        return JSONResponse({"expired": tx.expire_access_tokens(device.device_id, tx.now())})


async def revoke_refresh_tokens(request: Request) -> JSONResponse:
    """Revoke a device's refresh tokens (its access tokens live on until they expire)."""
    body = await json_object(request)
    with store_of(request).tx() as tx:
        device = device_or_404(tx, field(body, "device_id", str))
        return JSONResponse({"revoked": tx.revoke_tokens(device.device_id, "refresh")})
