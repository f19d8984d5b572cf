"""The control API under ``/_emulator/...``: set up the world, move time, look inside.

JSON in and out; errors are ``{"message": ...}`` (400 bad input, 404 unknown thing,
409 conflicting state). These routes are not device-facing: they are neither logged
nor subject to faults.
"""

import logging
import re
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import clock, faults, ids, inputs, lwa, orders, ratelimit
from .device_route import parse_json
from .errors import MessageError
from .marketplaces import DEFAULT_MARKETPLACE_ID, MARKETPLACES
from .store import (
    SETTING_LIMITS,
    Client,
    Customer,
    Device,
    Fault,
    MwsKey,
    Seller,
    Settings,
    Slot,
    Store,
    Tx,
    setting_ok,
)

log = logging.getLogger(__name__)

_REQUIRED = object()
MAX_QUANTITY = 1_000_000
"""Largest slot quantity and fault count the control API accepts."""
MAX_LIST_LIMIT = 10000
"""Most request-log entries one /_emulator/requests answer returns."""


def bad_request(message: str, status: int = 400) -> MessageError:
    """Return a control-API error (400 bad input unless ``status`` says otherwise)."""
    return MessageError(status, message)


def _store(request: Request) -> Store:
    return request.app.state.store


async def _body(request: Request) -> dict[str, Any]:
    """Return the request body as a JSON object (an empty body counts as ``{}``)."""
    raw = await request.body()
    body = parse_json(raw) if raw.strip() else {}
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    return body


def _field(
    body: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any = _REQUIRED
) -> Any:
    """Return ``body[name]`` checked against ``kind`` (bool is never a number)."""
    if name not in body or body[name] is None:
        if default is _REQUIRED:
            raise bad_request(f"Missing field {name}")
        return default
    value = body[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        names = "/".join(k.__name__ for k in kinds)
        raise bad_request(f"Field {name} must be of type {names}")
    return value


def _int_field(
    body: dict[str, Any], name: str, low: int, high: int, default: Any = _REQUIRED
) -> Any:
    """Return ``body[name]`` as an int within ``low..high`` (400 naming the field otherwise)."""
    value = _field(body, name, int, default)
    if isinstance(value, int) and not low <= value <= high:
        raise bad_request(f"Field {name} must be an integer within {low}..{high}")
    return value


def _query_int(request: Request, name: str, default: int) -> int:
    """Return a non-negative integer query parameter (ASCII digits, fits SQLite INTEGER)."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    value = inputs.ascii_uint(raw)
    if value is None:
        raise bad_request(f"Query parameter {name} must be a non-negative integer")
    return value


def _device(tx: Tx, device_id: str) -> Device:
    """Return a device or raise 404."""
    device = tx.device(device_id)
    if device is None:
        raise bad_request(f"Device {device_id} not found", 404)
    return device


def _slot_json(slot: Slot) -> dict[str, Any]:
    return {
        "id": slot.slot_id,
        "asin": slot.asin,
        "quantity": slot.quantity,
        "unit": slot.unit,
        "title": slot.title,
        "price": slot.price,
        "currency": slot.currency,
        "subscribed": slot.subscribed,
        "regulated": slot.regulated,
    }


def _clock_json(t: int) -> JSONResponse:
    return JSONResponse({"now": t, "iso": clock.iso(t)})


# -- registration ---------------------------------------------------------------
def _new_customer(tx: Tx, name: str, email: str | None, now: int) -> Customer:
    customer = Customer(
        customer_id=ids.customer_id(),
        name=name,
        email=email or f"customer-{secrets.token_hex(4)}@example.com",
        created_at=now,
    )
    tx.insert_customer(customer)
    return customer


def _new_client(tx: Tx, redirect_uri: str, now: int) -> tuple[Client, str]:
    """Create an LwA client; return it with its secret in clear (shown once)."""
    secret = ids.client_secret()
    client = Client(ids.client_id(), ids.digest(secret), redirect_uri, now)
    tx.insert_client(client)
    return client, secret


def _slots(device_id: str, model: str, specs: Any) -> list[Slot]:
    """Validate slot specs (``id`` required) into slots with defaults."""
    if not isinstance(specs, list) or not specs:
        raise bad_request("Field slots must be a non-empty list")
    slots: list[Slot] = []
    for spec in specs:
        if not isinstance(spec, dict):
            raise bad_request("Each slot must be a JSON object")
        slot_id = _field(spec, "id", str)
        if not slot_id or "/" in slot_id or any(s.slot_id == slot_id for s in slots):
            raise bad_request(f"Slot id {slot_id!r} is empty, contains '/' or is repeated")
        quantity = _field(spec, "quantity", int, 1)
        if not 1 <= quantity <= MAX_QUANTITY:
            raise bad_request(f"Slot quantity must be within 1..{MAX_QUANTITY}")
        slots.append(
            Slot(
                device_id=device_id,
                slot_id=slot_id,
                asin=_field(spec, "asin", str, ids.asin_for(model, slot_id)),
                quantity=quantity,
                unit=_field(spec, "unit", str, "count"),
                title=_field(spec, "title", str, f"{model} {slot_id} refill"),
                price=_field(spec, "price", str, "19.99"),
                currency=_field(spec, "currency", str, "USD"),
                subscribed=_field(spec, "subscribed", bool, True),
                regulated=_field(spec, "regulated", bool, False),
            )
        )
    return slots


def _register_device(
    tx: Tx, customer_id: str, client_id: str, body: dict[str, Any], now: int
) -> tuple[Device, list[Slot]]:
    """Register a device with its slots; a registered device with the same serial is replaced."""
    serial = _field(body, "serial", str)
    if not serial:
        raise bad_request("Field serial must not be empty")
    model = _field(body, "model", str, "generic-device")
    device_id = ids.device_id()
    slots = _slots(device_id, model, body.get("slots"))
    previous = tx.registered_device_by_serial(serial)
    if previous is not None:
        tx.deregister_device(previous.device_id, now)
    brand = model.split("-")[0]
    seller_id = _field(body, "seller_id", str, ids.seller_id_for(brand))
    if not _SELLER_ID.match(seller_id):
        raise bad_request("Field seller_id must be 10 to 20 upper-case letters and digits")
    if tx.seller(seller_id) is None:  # one brand, one seller: created on first provision
        tx.insert_seller(Seller(seller_id, brand or seller_id, DEFAULT_MARKETPLACE_ID, now))
    device = Device(
        device_id=device_id,
        customer_id=customer_id,
        client_id=client_id,
        seller_id=seller_id,
        model=model,
        serial=serial,
        test_orders=_field(body, "test_orders", bool, False),
        registered_at=now,
    )
    tx.insert_device(device, slots)
    return device, slots


async def provision(request: Request) -> JSONResponse:
    """Customer + LwA client + device + slots + authorization-code grant, in one call."""
    body = await _body(request)
    customer_ref = _field(body, "customer", str, "Test Customer")
    with _store(request).tx() as tx:
        now = tx.now()
        customer = tx.customer(customer_ref) or _new_customer(tx, customer_ref, None, now)
        client, secret = _new_client(tx, "https://localhost/lwa/callback", now)
        device, slots = _register_device(tx, customer.customer_id, client.client_id, body, now)
        code, redirect_uri = lwa.create_auth_code(tx, device, now)
        grant, _ = lwa.exchange_code(tx, client, code, redirect_uri, now)
    return JSONResponse(
        {
            "device_id": device.device_id,
            "customer_id": customer.customer_id,
            "seller_id": device.seller_id,
            "client_id": client.client_id,
            "client_secret": secret,
            "refresh_token": grant["refresh_token"],
            "slots": [_slot_json(slot) for slot in slots],
        }
    )


async def create_client(request: Request) -> JSONResponse:
    """Create an LwA client (``redirect_uri`` optional)."""
    body = await _body(request)
    redirect_uri = _field(body, "redirect_uri", str, "https://localhost/lwa/callback")
    with _store(request).tx() as tx:
        client, secret = _new_client(tx, redirect_uri, tx.now())
    return JSONResponse({"client_id": client.client_id, "client_secret": secret})


async def create_customer(request: Request) -> JSONResponse:
    """Create a customer."""
    body = await _body(request)
    name = _field(body, "name", str)
    email = _field(body, "email", str, None)
    with _store(request).tx() as tx:
        customer = _new_customer(tx, name, email, tx.now())
    return JSONResponse({"customer_id": customer.customer_id})


async def create_device(request: Request) -> JSONResponse:
    """Register a device for an existing customer and LwA client."""
    body = await _body(request)
    customer_id = _field(body, "customer_id", str)
    client_id = _field(body, "client_id", str)
    with _store(request).tx() as tx:
        if tx.customer(customer_id) is None:
            raise bad_request(f"Customer {customer_id} not found")
        if tx.client(client_id) is None:
            raise bad_request(f"Client {client_id} not found")
        device, _ = _register_device(tx, customer_id, client_id, body, tx.now())
    return JSONResponse({"device_id": device.device_id})


async def create_auth_code(request: Request) -> JSONResponse:
    """Issue an authorization code for a registered device (valid 300 s)."""
    body = await _body(request)
    with _store(request).tx() as tx:
        device = _device(tx, _field(body, "device_id", str))
        if device.deregistered_at is not None:
            raise bad_request(f"Device {device.device_id} is not registered", 409)
        code, redirect_uri = lwa.create_auth_code(tx, device, tx.now())
    return JSONResponse({"code": code, "redirect_uri": redirect_uri})


# -- sellers (the back office) -------------------------------------------------------
_SELLER_ID = re.compile(r"^[A-Z0-9]{10,20}$")


async def create_seller(request: Request) -> JSONResponse:
    """Create a seller (or give an existing one fresh credentials): SP-API app + MWS keys."""
    body = await _body(request)
    name = _field(body, "name", str)
    if not name.strip():
        raise bad_request("Field name must not be empty")
    seller_id = _field(body, "seller_id", str, ids.seller_id_for(name))
    if not _SELLER_ID.match(seller_id):
        raise bad_request("Field seller_id must be 10 to 20 upper-case letters and digits")
    marketplace_id = _field(body, "marketplace_id", str, None)
    if marketplace_id is not None and marketplace_id not in MARKETPLACES:
        raise bad_request("Unknown marketplace_id")
    with _store(request).tx() as tx:
        now = tx.now()
        seller = tx.seller(seller_id)
        if seller is None:
            seller = Seller(seller_id, name, marketplace_id or DEFAULT_MARKETPLACE_ID, now)
            tx.insert_seller(seller)
        elif marketplace_id is not None and marketplace_id != seller.marketplace_id:
            raise bad_request(f"Seller {seller_id} sells in {seller.marketplace_id}", 409)
        client, secret = _new_client(tx, "https://localhost/spapi/callback", now)
        refresh = lwa.authorize_seller_app(tx, client, seller.seller_id, now)
        access_key, secret_key, auth_token = (
            ids.mws_access_key(),
            ids.mws_secret_key(),
            ids.mws_auth_token(),
        )
        tx.insert_mws_key(
            MwsKey(access_key, secret_key, seller.seller_id, ids.digest(auth_token), now)
        )
    return JSONResponse(
        {
            "seller_id": seller.seller_id,
            "name": seller.name,
            "marketplace_id": seller.marketplace_id,
            "lwa": {
                "client_id": client.client_id,
                "client_secret": secret,
                "refresh_token": refresh,
            },
            "mws": {"access_key": access_key, "secret_key": secret_key, "auth_token": auth_token},
        }
    )


async def list_sellers(request: Request) -> JSONResponse:
    """List sellers (never their credentials)."""
    with _store(request).tx() as tx:
        sellers = tx.sellers()
    return JSONResponse(
        {
            "sellers": [
                {"seller_id": s.seller_id, "name": s.name, "marketplace_id": s.marketplace_id}
                for s in sellers
            ]
        }
    )


def _rate_limits_json(tx: Tx) -> JSONResponse:
    return JSONResponse(
        {
            "enabled": ratelimit.enabled(tx),
            "buckets": [
                {"key": key, "tokens": round(tokens, 4), "updated_at": at}
                for key, tokens, at in tx.buckets()
            ],
        }
    )


async def get_rate_limits(request: Request) -> JSONResponse:
    """Return whether throttling is on and every bucket's level."""
    with _store(request).tx() as tx:
        return _rate_limits_json(tx)


async def set_rate_limits(request: Request) -> JSONResponse:
    """Turn SP-API/MWS throttling on or off (``{"enabled": bool}``)."""
    body = await _body(request)
    enabled = _field(body, "enabled", bool)
    with _store(request).tx() as tx:
        tx.set_flag(ratelimit.ENABLED_FLAG, enabled)
        return _rate_limits_json(tx)


async def refill_rate_limits(request: Request) -> JSONResponse:
    """Refill every bucket (they start full again)."""
    with _store(request).tx() as tx:
        return JSONResponse({"refilled": tx.clear_buckets()})


# -- clock and settings -----------------------------------------------------------
async def get_clock(request: Request) -> JSONResponse:
    """Return the virtual time."""
    with _store(request).tx() as tx:
        return _clock_json(tx.now())


async def set_clock(request: Request) -> JSONResponse:
    """Advance or set the virtual time (never backwards); due order transitions run."""
    body = await _body(request)
    if ("advance" in body) == ("set" in body):
        raise bad_request("Give exactly one of advance (seconds) or set (epoch seconds)")
    try:
        with _store(request).tx() as tx:
            if "advance" in body:
                t = clock.advance(tx, _field(body, "advance", (int, float)))
            else:
                t = clock.set_to(tx, _field(body, "set", (int, float)))
    except clock.ClockError as err:
        raise bad_request(str(err)) from None
    return _clock_json(t)


def _settings_json(settings: Settings) -> JSONResponse:
    return JSONResponse(
        {
            "authorize_after_s": settings.authorize_after_s,
            "delivery_days": settings.delivery_days,
            "cancel_window_s": settings.cancel_window_s,
        }
    )


async def get_settings(request: Request) -> JSONResponse:
    """Return the order lifecycle settings."""
    with _store(request).tx() as tx:
        return _settings_json(tx.settings())


async def update_settings(request: Request) -> JSONResponse:
    """Change some settings (they apply to orders placed from now on)."""
    body = await _body(request)
    unknown = set(body) - set(Settings.__dataclass_fields__)
    if unknown:
        raise bad_request(f"Unknown settings: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name, (kind, high) in SETTING_LIMITS.items():
        value = _field(body, name, (int, float) if kind is float else int, None)
        if value is None:
            continue
        if not setting_ok(name, value):
            what = "an integer" if kind is int else "a finite number"
            raise bad_request(f"Field {name} must be {what} within 0..{high}")
        values[name] = value
    with _store(request).tx() as tx:
        tx.update_settings(values)
        return _settings_json(tx.settings())


# -- orders, requests, reports -----------------------------------------------------
async def list_orders(request: Request) -> JSONResponse:
    """List orders, optionally of one device and/or slot."""
    query = request.query_params
    with _store(request).tx() as tx:
        found = tx.orders(query.get("device_id") or None, query.get("slot_id") or None)
    return JSONResponse({"orders": [orders.as_json(order) for order in found]})


def _seller_named(tx: Tx, reference: str) -> Seller:
    """Return the seller with this id or name (404 naming how to create one)."""
    seller = tx.seller(reference) or tx.seller(ids.seller_id_for(reference))
    if seller is None:
        seller = next((s for s in tx.sellers() if s.name == reference), None)
    if seller is None:
        raise bad_request(
            f"Seller {reference} not found: create it with POST /_emulator/sellers", 404
        )
    return seller


async def place_order(request: Request) -> JSONResponse:
    """Place an order for a seller as a customer's device would (a shortcut for back offices).

    Body: ``{"seller": id or name, "asin"?, "title"?, "quantity"?, "price"?, "currency"?,
    "customer"?, "test"?}``. A new device of the customer, sold by the seller, with one slot
    of that product replenishes it: the order is created exactly as by DRS ``replenish``.
    """
    body = await _body(request)
    seller_ref = _field(body, "seller", str)
    customer_ref = _field(body, "customer", str, "Test Customer")
    product = {name: body[name] for name in _PRODUCT_FIELDS if body.get(name) is not None}
    with _store(request).tx() as tx:
        now = tx.now()
        seller = _seller_named(tx, seller_ref)
        customer = tx.customer(customer_ref) or _new_customer(tx, customer_ref, None, now)
        client, _ = _new_client(tx, "https://localhost/lwa/callback", now)
        device_spec = {
            "serial": f"ORDER-{secrets.token_hex(6).upper()}",
            "model": _SHORTCUT_MODEL,
            "seller_id": seller.seller_id,
            "test_orders": _field(body, "test", bool, False),
            "slots": [{"id": _SHORTCUT_SLOT, **product}],
        }
        device, slots = _register_device(
            tx, customer.customer_id, client.client_id, device_spec, now
        )
        order, _ = orders.replenish(tx, device, slots[0])
    return JSONResponse({"order": orders.as_json(order)})


_PRODUCT_FIELDS = ("asin", "title", "quantity", "price", "currency")
_SHORTCUT_MODEL = "control-api-order"
_SHORTCUT_SLOT = "item"


async def cancel_order(request: Request) -> JSONResponse:
    """Cancel an order as its customer would (window and shipping permitting)."""
    event_instance_id = request.path_params["eventInstanceId"]
    try:
        with _store(request).tx() as tx:
            order = tx.order_by_event(event_instance_id)
            if order is None:
                raise bad_request(f"Order {event_instance_id} not found", 404)
            order = orders.customer_cancel(tx, order, tx.now())
    except orders.OrderConflict as err:
        raise bad_request(str(err), 409) from None
    return JSONResponse({"order": orders.as_json(order)})


async def list_requests(request: Request) -> JSONResponse:
    """Return device-facing requests after id ``since`` (at most ``limit``)."""
    since = _query_int(request, "since", 0)
    limit = min(_query_int(request, "limit", 1000), MAX_LIST_LIMIT)
    with _store(request).tx() as tx:
        return JSONResponse({"requests": tx.requests(since, limit)})


async def slot_status(request: Request) -> JSONResponse:
    """Return the last slotStatus (per slot) and deviceStatus bodies of a device."""
    device_id = request.query_params.get("device_id")
    if not device_id:
        raise bad_request("Missing query parameter device_id")
    with _store(request).tx() as tx:
        _device(tx, device_id)
        reports = tx.latest_reports(device_id)
    result: dict[str, Any] = {"device_id": device_id, "device_status": None, "slots": {}}
    for report in reports:
        entry: dict[str, Any] = {"body": None, "received_at": report.received_at}
        try:
            entry["body"] = inputs.load_json(report.body)
        except inputs.InputError as err:  # stored by an older emulator that let it in
            log.warning("unreadable %s report of %s: %s", report.kind, device_id, err)
            entry["error"] = f"stored body is not valid JSON: {err}"
        if report.kind == "deviceStatus":
            result["device_status"] = entry
        else:
            result["slots"][report.slot_id] = entry
    return JSONResponse(result)


# -- faults and tokens ---------------------------------------------------------------
async def add_fault(request: Request) -> JSONResponse:
    """Arm a fault for the next ``count`` calls of a device-facing route."""
    body = await _body(request)
    route = _field(body, "route", str)
    kind = _field(body, "kind", str)
    if route not in faults.ROUTES:
        raise bad_request(f"Unknown route {route!r}; one of {', '.join(faults.ROUTES)}")
    if kind not in faults.KINDS:
        raise bad_request(f"Unknown kind {kind!r}; one of {', '.join(faults.KINDS)}")
    count = _int_field(body, "count", 1, MAX_QUANTITY, 1)
    status = _int_field(body, "status", 400, 599, 500)
    with _store(request).tx() as tx:
        fault_id = tx.insert_fault(
            Fault(route, kind, status, count, _field(body, "after", bool, False), tx.now())
        )
    return JSONResponse({"fault_id": fault_id})


async def list_faults(request: Request) -> JSONResponse:
    """List armed faults and how many requests a ``hang`` holds right now."""
    with _store(request).tx() as tx:
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
    with _store(request).tx() as tx:
        return JSONResponse({"cleared": tx.clear_faults()})


async def release_faults(request: Request) -> JSONResponse:
    """Let every request held by a ``hang`` fault go on."""
    return JSONResponse({"released": request.app.state.gate.release()})


async def expire_tokens(request: Request) -> JSONResponse:
    """Expire a device's access tokens now."""
    body = await _body(request)
    with _store(request).tx() as tx:
        device = _device(tx, _field(body, "device_id", str))
        return JSONResponse({"expired": tx.expire_access_tokens(device.device_id, tx.now())})


async def revoke_refresh_tokens(request: Request) -> JSONResponse:
    """Revoke a device's refresh tokens (its access tokens live on until they expire)."""
    body = await _body(request)
    with _store(request).tx() as tx:
        device = _device(tx, _field(body, "device_id", str))
        return JSONResponse({"revoked": tx.revoke_tokens(device.device_id, "refresh")})


ROUTES = [
    Route("/_emulator/provision", provision, methods=["POST"]),
    Route("/_emulator/clients", create_client, methods=["POST"]),
    Route("/_emulator/customers", create_customer, methods=["POST"]),
    Route("/_emulator/devices", create_device, methods=["POST"]),
    Route("/_emulator/authcodes", create_auth_code, methods=["POST"]),
    Route("/_emulator/clock", get_clock, methods=["GET"]),
    Route("/_emulator/clock", set_clock, methods=["POST"]),
    Route("/_emulator/settings", get_settings, methods=["GET"]),
    Route("/_emulator/settings", update_settings, methods=["POST"]),
    Route("/_emulator/orders", list_orders, methods=["GET"]),
    Route("/_emulator/orders", place_order, methods=["POST"]),
    Route("/_emulator/orders/{eventInstanceId}/cancel", cancel_order, methods=["POST"]),
    Route("/_emulator/requests", list_requests, methods=["GET"]),
    Route("/_emulator/slot-status", slot_status, methods=["GET"]),
    Route("/_emulator/faults", list_faults, methods=["GET"]),
    Route("/_emulator/faults", add_fault, methods=["POST"]),
    Route("/_emulator/faults", clear_faults, methods=["DELETE"]),
    Route("/_emulator/faults/release", release_faults, methods=["POST"]),
    Route("/_emulator/tokens/expire", expire_tokens, methods=["POST"]),
    Route("/_emulator/refresh-tokens/revoke", revoke_refresh_tokens, methods=["POST"]),
    Route("/_emulator/sellers", list_sellers, methods=["GET"]),
    Route("/_emulator/sellers", create_seller, methods=["POST"]),
    Route("/_emulator/rate-limits", get_rate_limits, methods=["GET"]),
    Route("/_emulator/rate-limits", set_rate_limits, methods=["POST"]),
    Route("/_emulator/rate-limits", refill_rate_limits, methods=["DELETE"]),
]
"""Every control route."""
