"""Registering the world: customers, LwA clients, devices with slots, authorization codes."""

import re
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from .. import ids, lwa
from ..marketplaces import DEFAULT_MARKETPLACE_ID
from ..store import Client, Customer, Device, Seller, Slot, Tx
from .body import MAX_QUANTITY, bad_request, device_or_404, field, json_object, store_of

SELLER_ID = re.compile(r"^[A-Z0-9]{10,20}$")
"""A merchant id: 10 to 20 upper-case letters and digits."""


def slot_json(slot: Slot) -> dict[str, Any]:
    """Return the control-API view of a slot."""
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


def new_customer(tx: Tx, name: str, email: str | None, now: int) -> Customer:
    """Create a customer (a made-up e-mail unless one is given)."""
    customer = Customer(
        customer_id=ids.customer_id(),
        name=name,
        email=email or f"customer-{secrets.token_hex(4)}@example.com",
        created_at=now,
    )
    tx.insert_customer(customer)
    return customer


def new_client(tx: Tx, redirect_uri: str, now: int) -> tuple[Client, str]:
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
        slot_id = field(spec, "id", str)
        if not slot_id or "/" in slot_id or any(s.slot_id == slot_id for s in slots):
            raise bad_request(f"Slot id {slot_id!r} is empty, contains '/' or is repeated")
        quantity = field(spec, "quantity", int, 1)
        if not 1 <= quantity <= MAX_QUANTITY:
            raise bad_request(f"Slot quantity must be within 1..{MAX_QUANTITY}")
        slots.append(
            Slot(
                device_id=device_id,
                slot_id=slot_id,
                asin=field(spec, "asin", str, ids.asin_for(model, slot_id)),
                quantity=quantity,
                unit=field(spec, "unit", str, "count"),
                title=field(spec, "title", str, f"{model} {slot_id} refill"),
                price=field(spec, "price", str, "19.99"),
                currency=field(spec, "currency", str, "USD"),
                subscribed=field(spec, "subscribed", bool, True),
                regulated=field(spec, "regulated", bool, False),
            )
        )
    return slots


def register_device(
    tx: Tx, customer_id: str, client_id: str, body: dict[str, Any], now: int
) -> tuple[Device, list[Slot]]:
    """Register a device with its slots; a registered device with the same serial is replaced."""
    serial = field(body, "serial", str)
    if not serial:
        raise bad_request("Field serial must not be empty")
    model = field(body, "model", str, "generic-device")
    device_id = ids.device_id()
    slots = _slots(device_id, model, body.get("slots"))
    previous = tx.registered_device_by_serial(serial)
    if previous is not None:
        tx.deregister_device(previous.device_id, now)
    brand = model.split("-")[0]
    seller_id = field(body, "seller_id", str, ids.seller_id_for(brand))
    if not SELLER_ID.match(seller_id):
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
        test_orders=field(body, "test_orders", bool, False),
        registered_at=now,
    )
    tx.insert_device(device, slots)
    return device, slots


async def provision(request: Request) -> JSONResponse:
    """Customer + LwA client + device + slots + authorization-code grant, in one call."""
    body = await json_object(request)
    customer_ref = field(body, "customer", str, "Test Customer")
    with store_of(request).tx() as tx:
        now = tx.now()
        customer = tx.customer(customer_ref) or new_customer(tx, customer_ref, None, now)
        client, secret = new_client(tx, "https://localhost/lwa/callback", now)
        device, slots = register_device(tx, customer.customer_id, client.client_id, body, now)
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
            "slots": [slot_json(slot) for slot in slots],
        }
    )


async def create_client(request: Request) -> JSONResponse:
    """Create an LwA client (``redirect_uri`` optional)."""
    body = await json_object(request)
    redirect_uri = field(body, "redirect_uri", str, "https://localhost/lwa/callback")
    with store_of(request).tx() as tx:
        client, secret = new_client(tx, redirect_uri, tx.now())
    return JSONResponse({"client_id": client.client_id, "client_secret": secret})


async def create_customer(request: Request) -> JSONResponse:
    """Create a customer."""
    body = await json_object(request)
    name = field(body, "name", str)
    email = field(body, "email", str, None)
    with store_of(request).tx() as tx:
        customer = new_customer(tx, name, email, tx.now())
    return JSONResponse({"customer_id": customer.customer_id})


async def create_device(request: Request) -> JSONResponse:
    """Register a device for an existing customer and LwA client."""
    body = await json_object(request)
    customer_id = field(body, "customer_id", str)
    client_id = field(body, "client_id", str)
    with store_of(request).tx() as tx:
        if tx.customer(customer_id) is None:
            raise bad_request(f"Customer {customer_id} not found")
        if tx.client(client_id) is None:
            raise bad_request(f"Client {client_id} not found")
        device, _ = register_device(tx, customer_id, client_id, body, tx.now())
    return JSONResponse({"device_id": device.device_id})


async def create_auth_code(request: Request) -> JSONResponse:
    """Issue an authorization code for a registered device (valid 300 s)."""
    body = await json_object(request)
    with store_of(request).tx() as tx:
        device = device_or_404(tx, field(body, "device_id", str))
        if device.deregistered_at is not None:
            raise bad_request(f"Device {device.device_id} is not registered", 409)
        code, redirect_uri = lwa.create_auth_code(tx, device, tx.now())
    return JSONResponse({"code": code, "redirect_uri": redirect_uri})
