"""Orders: list, place one for a seller, cancel as the customer, set one's delivery time.

Placing is the back-office shortcut; a delivery time per order gives the simulator its
lead times.
"""

import secrets

from starlette.requests import Request
from starlette.responses import JSONResponse

from .. import ids, orders
from ..store import Seller, Tx
from .body import bad_request, field, int_field, json_object, query_int, store_of
from .registration import new_client, new_customer, register_device


async def list_orders(request: Request) -> JSONResponse:
    """List orders, optionally of one device and/or slot, or updated at or after a time."""
    query = request.query_params
    updated_since = query_int(request, "updated_since", -1)
    with store_of(request).tx() as tx:
        found = tx.orders(
            query.get("device_id") or None,
            query.get("slot_id") or None,
            updated_since if updated_since >= 0 else None,
        )
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
    body = await json_object(request)
    seller_ref = field(body, "seller", str)
    customer_ref = field(body, "customer", str, "Test Customer")
    product = {name: body[name] for name in _PRODUCT_FIELDS if body.get(name) is not None}
    with store_of(request).tx() as tx:
        now = tx.now()
        seller = _seller_named(tx, seller_ref)
        customer = tx.customer(customer_ref) or new_customer(tx, customer_ref, None, now)
        client, _ = new_client(tx, "https://localhost/lwa/callback", now)
        device_spec = {
            "serial": f"ORDER-{secrets.token_hex(6).upper()}",
            "model": _SHORTCUT_MODEL,
            "seller_id": seller.seller_id,
            "test_orders": field(body, "test", bool, False),
            "slots": [{"id": _SHORTCUT_SLOT, **product}],
        }
        device, slots = register_device(
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
        with store_of(request).tx() as tx:
            order = tx.order_by_event(event_instance_id)
            if order is None:
                raise bad_request(f"Order {event_instance_id} not found", 404)
            order = orders.customer_cancel(tx, order, tx.now())
    except orders.OrderConflict as err:
        raise bad_request(str(err), 409) from None
    return JSONResponse({"order": orders.as_json(order)})


async def set_delivery(request: Request) -> JSONResponse:
    """Give one order on its way its own delivery time.

    Body: ``{"lead_time_hours": h}`` (hours after the order was placed) or
    ``{"delivery_at": epoch seconds}``. 404 unknown order, 409 delivered or canceled
    already, or a time before its payment is authorized.
    """
    body = await json_object(request)
    event_instance_id = request.path_params["eventInstanceId"]
    if ("lead_time_hours" in body) == ("delivery_at" in body):
        raise bad_request("Give exactly one of lead_time_hours and delivery_at")
    try:
        with store_of(request).tx() as tx:
            order = tx.order_by_event(event_instance_id)
            if order is None:
                raise bad_request(f"Order {event_instance_id} not found", 404)
            if "delivery_at" in body:
                at = int_field(body, "delivery_at", 0, _LATEST)
            else:
                hours = field(body, "lead_time_hours", (int, float))
                if not 0 <= hours <= _LONGEST_LEAD_H:
                    raise bad_request(f"Field lead_time_hours must be within 0..{_LONGEST_LEAD_H}")
                at = order.created_at + round(hours * 3600)
            order = orders.reschedule_delivery(tx, order, at)
    except orders.OrderConflict as err:
        raise bad_request(str(err), 409) from None
    return JSONResponse({"order": orders.as_json(order)})


_LONGEST_LEAD_H = 24 * 365
_LATEST = 2**53
