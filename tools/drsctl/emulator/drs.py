"""Dash Replenishment Service v1: the device-facing endpoints.

Every endpoint goes through :func:`_authorize` (version headers, then bearer token), so
header and token checks exist once. Error bodies are ``{"message": ...}`` with an
``x-amzn-ErrorType`` header; success responses carry ``x-amzn-type-version`` set to the
result type, as the seeds show. An endpoint may serve several documented versions (the
pair of headers picks one): subscriptionInfo answers ``DrsSubscriptionInfoResult@2.0``
or ``@1.0``; deregistration is ``DELETE /registration`` (``DrsDeregisterInput@2.0``) or
``DELETE /deviceModels/{model}/devices/{serial}/registration`` (``@1.0``).
"""

import dataclasses
import functools
import json
from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from . import clock, inputs, lwa, orders
from .device_route import Call, RawResponse, json_response, parse_json
from .errors import MessageError, ServiceError
from .store import Device, OrderItem, Report, Slot, Tx

PREFIX = "com.amazon.dash.replenishment."


def _invalid_token() -> MessageError:
    return MessageError(400, "Invalid token", "InvalidTokenException")


def _validation(message: str) -> MessageError:
    return MessageError(400, message, "ValidationException")


def _not_found(message: str) -> MessageError:
    return MessageError(404, message, "ResourceNotFoundException")


Handler = Callable[[Call, Tx, Device], dict[str, Any] | None]


@dataclasses.dataclass(frozen=True)
class Version:
    """One documented version of an endpoint: its header pair and handler."""

    input_type: str
    result_type: str
    handler: Handler

    @functools.cached_property
    def result_header(self) -> tuple[bytes, bytes]:
        """The ``x-amzn-type-version`` header of its answers, encoded."""
        return (b"x-amzn-type-version", (PREFIX + self.result_type).encode("latin-1"))


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """One DRS route: path, method, fault route name and the versions it serves."""

    path: str
    method: str
    name: str
    versions: tuple[Version, ...]

    @functools.cached_property
    def _by_headers(self) -> dict[tuple[str, str], Version]:
        """Each version by its pair of header values (first listed wins, as in :func:`_version`)."""
        table: dict[tuple[str, str], Version] = {}
        for v in self.versions:
            table.setdefault((PREFIX + v.input_type, PREFIX + v.result_type), v)
        return table

    def __call__(self, call: Call) -> Response:
        """Authorize, run the version's handler in one transaction, shape the answer."""
        with call.store.tx() as tx:
            version = _version(call, self)
            device = _authorize(call, tx)
            body = version.handler(call, tx, device)
        if body is None:
            return RawResponse(200, b"", [version.result_header, (b"content-length", b"0")])
        return json_response(200, body, [version.result_header])


def _version(call: Call, endpoint: Endpoint) -> Version:
    """Return the version the header pair names (400 naming the header otherwise)."""
    headers = call.headers
    pair = (headers.get("x-amzn-type-version", ""), headers.get("x-amzn-accept-type", ""))
    found = endpoint._by_headers.get(pair)
    if found is not None:
        return found
    candidates = list(endpoint.versions)
    for header, field in (("x-amzn-type-version", "input_type"),
                          ("x-amzn-accept-type", "result_type")):  # fmt: skip
        allowed = list(dict.fromkeys(PREFIX + getattr(v, field) for v in candidates))
        expected = " or ".join(allowed)
        value = headers.get(header)
        if value is None:
            raise _validation(f"Missing header {header}: expected {expected}")
        if value not in allowed:
            raise _validation(f"Unsupported value of header {header}: expected {expected}")
        candidates = [v for v in candidates if PREFIX + getattr(v, field) == value]
    return candidates[0]


def _authorize(call: Call, tx: Tx) -> Device:
    """Check the bearer token (resolved with its device by the route); return the device."""
    token, device = call.token, call.device
    if token is None or not lwa.is_live_device_token(token, tx.now()):
        raise _invalid_token()
    if device is None or device.deregistered_at is not None:
        raise _invalid_token()
    return device


def _slot(tx: Tx, device: Device, slot_id: str) -> Slot:
    """Return the device's slot or raise 404."""
    slot = tx.slot(device.device_id, slot_id)
    if slot is None:
        raise _not_found(f"Slot {slot_id} not found")
    return slot


def _json_object(call: Call, fields: dict[str, str]) -> dict[str, Any]:
    """Parse the body as a JSON object with every field in ``fields`` (name → date|number)."""
    try:
        body = parse_json(call.body)
    except ServiceError as err:
        raise _validation(err.message) from None
    if not isinstance(body, dict):
        raise _validation("Request body must be a JSON object")
    for name, kind in fields.items():
        if name not in body:
            raise _validation(f"Missing field {name}")
        value = body[name]
        if kind == "date":
            try:
                clock.parse_iso(value)
            except (TypeError, ValueError):
                raise _validation(f"Field {name} must be an ISO-8601 date-time") from None
        elif not inputs.finite_number(value) or value < 0:
            raise _validation(f"Field {name} must be a finite, non-negative number")
    return body


def _report(tx: Tx, device: Device, kind: str, slot_id: str | None, body: dict[str, Any]) -> None:
    tx.insert_report(Report(device.device_id, kind, slot_id, json.dumps(body), tx.now()))


def replenish(call: Call, tx: Tx, device: Device) -> dict[str, Any]:
    """Place an order for the slot, or point at the one already in progress."""
    slot_id = call.params["slotId"]
    state = tx.slot_state(device.device_id, slot_id)  # as _slot and orders.replenish
    if state is None:
        raise _not_found(f"Slot {slot_id} not found")
    subscribed, in_progress = state
    if not subscribed:
        raise _validation(f"Unable to place order - slot : {slot_id} is unsubscribed.")
    if in_progress is not None:
        return {"eventInstanceId": in_progress, "detailCode": "ORDER_INPROGRESS"}
    order = orders.place(tx, device, _slot(tx, device, slot_id), tx.now())
    code = "TEST_ORDER_PLACED" if order.is_test else "STANDARD_ORDER_PLACED"
    return {"eventInstanceId": order.event_instance_id, "detailCode": code}


def order_info_json(order: OrderItem) -> dict[str, Any]:
    """Render an order as DRS ``getOrderInfo`` shows it."""
    item = {
        "asin": order.asin,
        "expectedDeliveryDate": clock.iso_ms(order.expected_delivery),
        "quantity": order.quantity,
        "slotId": order.slot_id,
        "status": orders.drs_status(order),
    }
    return {"orderInfoData": {"instanceId": order.event_instance_id, "orderItems": [item]}}


def get_order_info(call: Call, tx: Tx, device: Device) -> dict[str, Any]:
    """Describe one of the device's orders.

    An unknown id, or another device's, is a 400 ``{"message"}``: seed 000 lists only 400
    and 500 for this endpoint.
    """
    event_instance_id = call.params["eventInstanceId"]
    order = tx.order_item_by_event(event_instance_id)
    if order is None or order.device_id != device.device_id:
        raise _validation("No order found for this eventInstanceId")
    return order_info_json(order)


_SLOT_STATUS_FIELDS = {
    "expectedReplenishmentDate": "date",
    "remainingQuantityInUnit": "number",
    "originalQuantityInUnit": "number",
    "totalQuantityOnHand": "number",
    "lastUseDate": "date",
}


def slot_status(call: Call, tx: Tx, device: Device) -> None:
    """Record a slot's consumption report."""
    slot = _slot(tx, device, call.params["slotId"])
    _report(tx, device, "slotStatus", slot.slot_id, _json_object(call, _SLOT_STATUS_FIELDS))


def device_status(call: Call, tx: Tx, device: Device) -> None:
    """Record the device's activity report (path serial, if given, must be the device's)."""
    serial = call.params.get("serial")
    if serial is not None and serial != device.serial:
        raise _not_found(f"Device {serial} not found")
    body = _json_object(call, {"mostRecentlyActiveDate": "date"})
    _report(tx, device, "deviceStatus", None, body)


def subscription_info_v1(call: Call, tx: Tx, device: Device) -> dict[str, Any]:
    """List whether each slot is subscribed (``DrsSubscriptionInfoResult@1.0``)."""
    slots = tx.slots(device.device_id)
    return {"slotsSubscriptionStatus": {slot.slot_id: slot.subscribed for slot in slots}}


def subscription_info(call: Call, tx: Tx, device: Device) -> dict[str, Any]:
    """List each slot's subscription and product (``DrsSubscriptionInfoResult@2.0``)."""
    status = {
        slot.slot_id: {
            "subscribed": slot.subscribed,
            "productInfoList": (
                [{"asin": slot.asin, "quantity": slot.quantity, "unit": slot.unit}]
                if slot.subscribed
                else []
            ),
        }
        for slot in tx.slots(device.device_id)
    }
    return {"slotsSubscriptionStatus": status}


def deregister(call: Call, tx: Tx, device: Device) -> None:
    """Unregister the device; all its tokens stop working.

    The v1 path names the device's model and serial; they must be the caller's.
    """
    model, serial = call.params.get("model"), call.params.get("serial")
    if serial is not None and (serial != device.serial or model != device.model):
        raise _not_found(f"Device {serial} of model {model} not found")
    tx.deregister_device(device.device_id, tx.now())


def cancel_test_orders(call: Call, tx: Tx, device: Device) -> dict[str, Any]:
    """Cancel open test orders of one slot (path) or of every slot."""
    slot_id = call.params.get("slotId")
    slots = [_slot(tx, device, slot_id)] if slot_id is not None else tx.slots(device.device_id)
    now = tx.now()
    statuses = [
        {
            "orderStatus": (
                "CANCELLED"
                if orders.cancel_test_orders(tx, device.device_id, slot.slot_id, now)
                else "NO_ORDER_IN_PROGRESS"
            ),
            "slotId": slot.slot_id,
        }
        for slot in slots
    ]
    return {"slotOrderStatuses": statuses}


def _one(input_type: str, result_type: str, handler: Handler) -> tuple[Version, ...]:
    return (Version(input_type, result_type, handler),)


_REPLENISH = _one("DrsReplenishInput@1.0", "DrsReplenishResult@1.0", replenish)
_ORDER_INFO = _one("DrsOrderInfoInput@1.0", "DrsOrderInfoResult@1.0", get_order_info)
_SLOT_STATUS = _one("DrsSlotStatusInput@1.0", "DrsSlotStatusResult@1.0", slot_status)
_DEVICE_STATUS = _one("DrsDeviceStatusInput@1.0", "DrsDeviceStatusResult@1.0", device_status)
_SUBSCRIPTION_INFO = (
    Version("DrsSubscriptionInfoInput@1.0", "DrsSubscriptionInfoResult@2.0", subscription_info),
    Version("DrsSubscriptionInfoInput@1.0", "DrsSubscriptionInfoResult@1.0",
            subscription_info_v1),
)  # fmt: skip
_CANCEL_TEST_ORDERS = _one(
    "DrsCancelTestOrdersInput@1.0", "DrsCancelTestOrdersResult@1.0", cancel_test_orders
)

ENDPOINTS = (
    Endpoint("/replenish/{slotId}", "POST", "replenish", _REPLENISH),
    Endpoint("/getOrderInfo/{eventInstanceId}", "GET", "getOrderInfo", _ORDER_INFO),
    Endpoint("/slotStatus/{slotId}", "POST", "slotStatus", _SLOT_STATUS),
    Endpoint("/deviceStatus", "POST", "deviceStatus", _DEVICE_STATUS),
    Endpoint("/deviceStatus/{serial}", "POST", "deviceStatus", _DEVICE_STATUS),
    Endpoint("/subscriptionInfo", "GET", "subscriptionInfo", _SUBSCRIPTION_INFO),
    Endpoint("/registration", "DELETE", "registration",
             _one("DrsDeregisterInput@2.0", "DrsDeregisterResult@1.0", deregister)),
    Endpoint("/deviceModels/{model}/devices/{serial}/registration", "DELETE", "registration",
             _one("DrsDeregisterInput@1.0", "DrsDeregisterResult@1.0", deregister)),
    Endpoint("/testOrders/slots/{slotId}", "DELETE", "testOrders", _CANCEL_TEST_ORDERS),
    Endpoint("/testOrders", "DELETE", "testOrders", _CANCEL_TEST_ORDERS),
)  # fmt: skip
"""Every DRS route, as the contract lists them."""
