"""Reading control-API requests: JSON bodies, typed fields, query integers, 400/404 errors."""

from typing import Any

from starlette.requests import Request

from .. import inputs
from ..device_route import parse_json
from ..errors import MessageError
from ..store import Device, Store, Tx

REQUIRED = object()
MAX_QUANTITY = 1_000_000
"""Largest slot quantity and fault count the control API accepts."""
MAX_LIST_LIMIT = 10000
"""Most request-log entries one /_emulator/requests answer returns."""


def bad_request(message: str, status: int = 400) -> MessageError:
    """Return a control-API error (400 bad input unless ``status`` says otherwise)."""
    return MessageError(status, message)


def store_of(request: Request) -> Store:
    """Return the application's store."""
    return request.app.state.store


async def json_object(request: Request) -> dict[str, Any]:
    """Return the request body as a JSON object (an empty body counts as ``{}``)."""
    raw = await request.body()
    body = parse_json(raw) if raw.strip() else {}
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    return body


def field(
    body: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any = REQUIRED
) -> Any:
    """Return ``body[name]`` checked against ``kind`` (bool is never a number)."""
    if name not in body or body[name] is None:
        if default is REQUIRED:
            raise bad_request(f"Missing field {name}")
        return default
    value = body[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        names = "/".join(k.__name__ for k in kinds)
        raise bad_request(f"Field {name} must be of type {names}")
    return value


def int_field(body: dict[str, Any], name: str, low: int, high: int, default: Any = REQUIRED) -> Any:
    """Return ``body[name]`` as an int within ``low..high`` (400 naming the field otherwise)."""
    value = field(body, name, int, default)
    if isinstance(value, int) and not low <= value <= high:
        raise bad_request(f"Field {name} must be an integer within {low}..{high}")
    return value


def query_int(request: Request, name: str, default: int) -> int:
    """Return a non-negative integer query parameter (ASCII digits, fits SQLite INTEGER)."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    value = inputs.ascii_uint(raw)
    if value is None:
        raise bad_request(f"Query parameter {name} must be a non-negative integer")
    return value


def device_or_404(tx: Tx, device_id: str) -> Device:
    """Return a device or raise 404."""
    device = tx.device(device_id)
    if device is None:
        raise bad_request(f"Device {device_id} not found", 404)
    return device
