"""Dash Replenishment Service v1: the device-facing endpoints.

Every endpoint goes through :func:`_authorize` (version headers, then bearer token), so
header and token checks exist once. Error bodies are ``{"message": ...}`` with an
``x-amzn-ErrorType`` header; success responses carry ``x-amzn-type-version`` set to the
result type, as the seeds show.
"""

import dataclasses
import json
from collections.abc import Callable
from typing import Any

from starlette.responses import JSONResponse, Response

from . import clock, inputs, lwa, orders
from .gateway import ApiError, Call, parse_json
from .store import Device, Report, Slot, Tx

PREFIX = "com.amazon.dash.replenishment."


def drs_error(status: int, message: str, error_type: str) -> ApiError:
    """Return a DRS error answer."""
    return ApiError(status, {"message": message}, {"x-amzn-ErrorType": error_type})


def _invalid_token() -> ApiError:
    return drs_error(400, "Invalid token", "InvalidTokenException")


def _validation(message: str) -> ApiError:
    return drs_error(400, message, "ValidationException")


def _not_found(message: str) -> ApiError:
    return drs_error(404, message, "ResourceNotFoundException")


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """One DRS route: path, method, fault route name, version pair and handler."""

    path: str
    method: str
    name: str
    input_type: str
    result_type: str
    handler: Callable[[Call, Tx, Device], dict[str, Any] | None]

    def __call__(self, call: Call) -> Response:
        """Authorize, run the handler in one transaction, shape the answer."""
        with call.store.tx() as tx:
            device = _authorize(call, tx, self)
            body = self.handler(call, tx, device)
        headers = {"x-amzn-type-version": PREFIX + self.result_type}
        if body is None:
            return Response(b"", 200, headers)
        return JSONResponse(body, 200, headers)


def _authorize(call: Call, tx: Tx, endpoint: Endpoint) -> Device:
    """Check the version headers and the bearer token; return the caller's device."""
    for header, expected in (
        ("x-amzn-type-version", PREFIX + endpoint.input_type),
        ("x-amzn-accept-type", PREFIX + endpoint.result_type),
    ):
        value = call.request.headers.get(header)
        if value is None:
            raise _validation(f"Missing header {header}: expected {expected}")
        if value != expected:
            raise _validation(f"Unsupported value of header {header}: expected {expected}")
    token = call.token
    if token is None or not lwa.is_live_device_token(token, tx.now()):
        raise _invalid_token()
    device = tx.device(str(token.device_id))
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
    except ApiError as err:
        raise _validation(err.body["message"]) from None
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
    slot = _slot(tx, device, call.params["slotId"])
    if not slot.subscribed:
        raise _validation(f"Slot {slot.slot_id} has no product subscription")
    current = orders.open_order(tx, device.device_id, slot.slot_id)
    if current is not None:
        return {"eventInstanceId": current.event_instance_id, "detailCode": "ORDER_INPROGRESS"}
    order = orders.place(tx, device, slot, tx.now())
    code = "TEST_ORDER_PLACED" if order.is_test else "STANDARD_ORDER_PLACED"
    return {"eventInstanceId": order.event_instance_id, "detailCode": code}


def get_order_info(call: Call, tx: Tx, device: Device) -> dict[str, Any]:
    """Describe one of the device's orders (another device's order is "not found" too)."""
    event_instance_id = call.params["eventInstanceId"]
    order = tx.order_by_event(event_instance_id)
    if order is None or order.device_id != device.device_id:
        raise _not_found("No order found for this eventInstanceId")
    item = {
        "asin": order.asin,
        "expectedDeliveryDate": clock.iso_ms(order.expected_delivery),
        "quantity": order.quantity,
        "slotId": order.slot_id,
        "status": orders.drs_status(order),
    }
    return {"orderInfoData": {"instanceId": order.event_instance_id, "orderItems": [item]}}


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


def subscription_info(call: Call, tx: Tx, device: Device) -> dict[str, Any]:
    """List each slot's subscription and product."""
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
    """Unregister the device; all its tokens stop working."""
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


ENDPOINTS = (
    Endpoint("/replenish/{slotId}", "POST", "replenish",
             "DrsReplenishInput@1.0", "DrsReplenishResult@1.0", replenish),
    Endpoint("/getOrderInfo/{eventInstanceId}", "GET", "getOrderInfo",
             "DrsOrderInfoInput@1.0", "DrsOrderInfoResult@1.0", get_order_info),
    Endpoint("/slotStatus/{slotId}", "POST", "slotStatus",
             "DrsSlotStatusInput@1.0", "DrsSlotStatusResult@1.0", slot_status),
    Endpoint("/deviceStatus", "POST", "deviceStatus",
             "DrsDeviceStatusInput@1.0", "DrsDeviceStatusResult@1.0", device_status),
    Endpoint("/deviceStatus/{serial}", "POST", "deviceStatus",
             "DrsDeviceStatusInput@1.0", "DrsDeviceStatusResult@1.0", device_status),
    Endpoint("/subscriptionInfo", "GET", "subscriptionInfo",
             "DrsSubscriptionInfoInput@1.0", "DrsSubscriptionInfoResult@2.0", subscription_info),
    Endpoint("/registration", "DELETE", "registration",
             "DrsDeregisterInput@2.0", "DrsDeregisterResult@1.0", deregister),
    Endpoint("/testOrders/slots/{slotId}", "DELETE", "testOrders",
             "DrsCancelTestOrdersInput@1.0", "DrsCancelTestOrdersResult@1.0", cancel_test_orders),
    Endpoint("/testOrders", "DELETE", "testOrders",
             "DrsCancelTestOrdersInput@1.0", "DrsCancelTestOrdersResult@1.0", cancel_test_orders),
)  # fmt: skip
"""Every DRS route, as the contract lists them."""
