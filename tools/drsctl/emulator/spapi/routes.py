"""The SP-API route table: every operation with its path, usage plan and RDT coverage."""

from starlette.routing import Route

from .. import ratelimit
from ..rdt import ORDER_ELEMENTS
from .dispatch import Operation, endpoint
from .handlers import (
    confirm_shipment,
    create_restricted_data_token,
    get_order,
    get_order_address,
    get_order_buyer_info,
    get_order_items,
    get_order_items_buyer_info,
    get_order_regulated_info,
    update_shipment_status,
    update_verification_status,
)
from .listing import get_orders


def _plan(rate: float, burst: int) -> ratelimit.Plan:
    return ratelimit.Plan(rate, burst)


ORDERS = "/orders/v0/orders"
BUYER_INFO = frozenset({"buyerInfo"})
OPERATIONS = (
    Operation("getOrders", "GET", ORDERS, _plan(0.0167, 20), get_orders,
              restricted=True, rdt_elements=ORDER_ELEMENTS),
    Operation("getOrder", "GET", ORDERS + "/{orderId}", _plan(0.5, 30), get_order,
              restricted=True, rdt_elements=ORDER_ELEMENTS),
    Operation("getOrderBuyerInfo", "GET", ORDERS + "/{orderId}/buyerInfo", _plan(0.5, 30),
              get_order_buyer_info, restricted=True),
    Operation("getOrderAddress", "GET", ORDERS + "/{orderId}/address", _plan(0.5, 30),
              get_order_address, restricted=True),
    Operation("getOrderItems", "GET", ORDERS + "/{orderId}/orderItems", _plan(0.5, 30),
              get_order_items, restricted=True, rdt_elements=BUYER_INFO),
    Operation("getOrderItemsBuyerInfo", "GET", ORDERS + "/{orderId}/orderItems/buyerInfo",
              _plan(0.5, 30), get_order_items_buyer_info, restricted=True),
    Operation("updateShipmentStatus", "POST", ORDERS + "/{orderId}/shipment", _plan(5, 15),
              update_shipment_status),
    Operation("getOrderRegulatedInfo", "GET", ORDERS + "/{orderId}/regulatedInfo",
              _plan(0.5, 30), get_order_regulated_info, restricted=True),
    Operation("updateVerificationStatus", "PATCH", ORDERS + "/{orderId}/regulatedInfo",
              _plan(0.5, 30), update_verification_status),
    Operation("confirmShipment", "POST", ORDERS + "/{orderId}/shipmentConfirmation",
              _plan(2, 10), confirm_shipment),
    Operation("createRestrictedDataToken", "POST", "/tokens/2021-03-01/restrictedDataToken",
              _plan(1, 10), create_restricted_data_token),
)  # fmt: skip
"""Every SP-API operation the emulator serves (usage plans from the models; RDT coverage
from the Tokens API's list of restricted operations)."""

RESTRICTED = tuple(op.rdt_operation for op in OPERATIONS if op.rdt_operation is not None)
"""The restricted operations, as createRestrictedDataToken checks resources against them."""

ROUTES = [Route(op.path, endpoint(op, RESTRICTED), methods=[op.method]) for op in OPERATIONS]
PREFIXES = ("/orders/", "/tokens/")
"""Paths answered with SP-API error bodies (404, 405, 413)."""
