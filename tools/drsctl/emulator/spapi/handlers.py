"""SP-API handlers for one order: getOrder and its parts, shipments, regulated items, RDTs."""

import json
from collections.abc import Callable
from typing import Any

from .. import buyer, clock, ids, inputs, orders, rdt
from ..errors import SpApiError
from ..order_view import OrderView
from ..store import Order, Package
from .dispatch import Ctx, Result, invalid
from .listing import ITEMS_PAGE_SIZE, load_page, next_page, single_params
from .views import item_json, order_json

SHIPMENT_STATUSES = ("ReadyForPickup", "PickedUp", "RefusedPickup")
REJECTION_REASONS = (
    ("shield_pom_vps_reject_product", "This product is not suitable for the patient."),
    ("shield_pom_vps_reject_age", "The patient is too young for this product."),
    ("shield_pom_vps_reject_incorrect_weight", "The patient's weight does not match."),
)


def get_order(ctx: Ctx) -> Result:
    """Serve getOrder."""
    return 200, {"payload": order_json(ctx, OrderView.of(ctx.tx, ctx.order()))}


def get_order_buyer_info(ctx: Ctx) -> Result:
    """Serve getOrderBuyerInfo: the buyer's name and e-mail only with a covering RDT."""
    order = ctx.order()
    payload: dict[str, Any] = {"AmazonOrderId": order.amazon_order_id}
    if rdt.COVERS_PATH in ctx.elements and orders.buyer_visible(order):
        payload.update(buyer.for_customer(ctx.customer(order)).info())
    return 200, {"payload": payload}


def get_order_address(ctx: Ctx) -> Result:
    """Serve getOrderAddress: the street part of the address only with a covering RDT."""
    order = ctx.order()
    payload: dict[str, Any] = {"AmazonOrderId": order.amazon_order_id}
    if orders.buyer_visible(order):
        profile = buyer.for_customer(ctx.customer(order))
        payload["ShippingAddress"] = profile.address(rdt.COVERS_PATH in ctx.elements)
    return 200, {"payload": payload}


def _items_page(ctx: Ctx, operation: str, view: Callable[[Order], dict[str, Any]]) -> Result:
    """Page through an order's items (``ITEMS_PAGE_SIZE`` per page)."""
    order = ctx.order()
    token = single_params(ctx.request, ("NextToken",)).get("NextToken")
    items = [view(order)]  # a DRS order has exactly one line
    start = 0
    key = f"{operation}:{order.amazon_order_id}"
    if token is not None:
        start = int(load_page(ctx, key, token)["start"])
    end = start + ITEMS_PAGE_SIZE
    payload: dict[str, Any] = {
        "OrderItems": items[start:end],
        "AmazonOrderId": order.amazon_order_id,
    }
    if end < len(items):
        payload["NextToken"] = next_page(ctx, key, {"start": end})
    return 200, {"payload": payload}


def get_order_items(ctx: Ctx) -> Result:
    """Serve getOrderItems (with NextToken)."""
    return _items_page(
        ctx, "getOrderItems", lambda order: item_json(ctx, OrderView.of(ctx.tx, order))
    )


def get_order_items_buyer_info(ctx: Ctx) -> Result:
    """Serve getOrderItemsBuyerInfo (no gift wrap or customization on DRS orders)."""
    return _items_page(
        ctx, "getOrderItemsBuyerInfo", lambda order: {"OrderItemId": order.order_item_id}
    )


def _check_marketplace(body: dict[str, Any], order: Order) -> None:
    marketplace = body.get("marketplaceId")
    if not isinstance(marketplace, str) or not marketplace:
        raise invalid("Missing request parameter: marketplaceId.")
    if marketplace != order.marketplace_id:
        raise invalid("Marketplace ID is not defined for this order.")


def _ship_items(value: Any, order: Order, required: bool) -> list[dict[str, Any]]:
    """Validate ``[{"orderItemId","quantity"}]`` against the order's item."""
    if value is None and not required:
        return []
    if not isinstance(value, list) or not value:
        raise invalid("orderItems must be a non-empty list.")
    items: list[dict[str, Any]] = []
    for entry in value:
        if not isinstance(entry, dict):
            raise invalid("Each order item must be a JSON object.")
        item_id, quantity = entry.get("orderItemId"), entry.get("quantity")
        if not isinstance(item_id, str) or item_id != order.order_item_id:
            raise invalid("orderItemId does not belong to this order.")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise invalid("quantity must be a positive integer.")
        codes = entry.get("transparencyCodes")
        if codes is not None and (
            not isinstance(codes, list) or not all(isinstance(c, str) for c in codes)
        ):
            raise invalid("transparencyCodes must be a list of strings.")
        items.append({"orderItemId": item_id, "quantity": quantity})
    if sum(i["quantity"] for i in items) > order.quantity:
        raise invalid("The quantity exceeds the quantity ordered.")
    return items


def _open_for_shipping(order: Order) -> None:
    if order.status == orders.PENDING:
        raise invalid("The order is Pending: payment is not authorized yet.")
    if order.status == orders.CANCELED:
        raise invalid("The order is canceled.")
    if order.has_regulated_items and order.verification_status != "Approved":
        raise invalid("The order has regulated items that are not approved.")


def update_shipment_status(ctx: Ctx) -> Result:
    """Serve updateShipmentStatus: ``PickedUp`` ships the order; every status is recorded."""
    order = ctx.order()
    body = ctx.json_body(require_type=True)
    _check_marketplace(body, order)
    status = body.get("shipmentStatus")
    if status not in SHIPMENT_STATUSES:
        raise invalid(f"shipmentStatus must be one of {', '.join(SHIPMENT_STATUSES)}.")
    items = _ship_items(body.get("orderItems"), order, required=False)
    _open_for_shipping(order)
    if status == "PickedUp" and order.status in (orders.UNSHIPPED, orders.PARTIALLY_SHIPPED):
        order = orders.ship(ctx.tx, order, ctx.now)
    ctx.tx.add_shipment_event(int(order.order_id or 0), str(status), json.dumps(items), ctx.now)
    return 204, None


def _package_detail(body: dict[str, Any], order: Order) -> dict[str, Any]:
    detail = body.get("packageDetail")
    if not isinstance(detail, dict):
        raise invalid("Missing request parameter: packageDetail.")
    reference = detail.get("packageReferenceId")
    if reference in (None, ""):
        reference = ids.package_reference_id()
    if not isinstance(reference, str) or inputs.ascii_uint(reference) in (None, 0):
        raise invalid("packageReferenceId must be a positive number (as a string).")
    strings: dict[str, str | None] = {}
    for name, required in (("carrierCode", True), ("trackingNumber", True),
                           ("carrierName", False), ("shippingMethod", False),
                           ("shipFromSupplySourceId", False)):  # fmt: skip
        value = detail.get(name)
        if value is None and not required:
            strings[name] = None
            continue
        if not isinstance(value, str) or not value.strip():
            raise invalid(f"Missing request parameter: {name}.")
        strings[name] = value
    ship_date = detail.get("shipDate")
    if not isinstance(ship_date, str) or "T" not in ship_date:
        raise invalid("shipDate must be an ISO 8601 date-time.")
    try:
        shipped_at = clock.parse_iso(ship_date)
    except (ValueError, OverflowError, OSError):
        raise invalid("shipDate must be an ISO 8601 date-time.") from None
    if shipped_at < order.created_at:
        raise invalid("shipDate cannot be before the order's PurchaseDate.")
    return {
        "reference": reference.lstrip("0") or "0",
        "strings": strings,
        "ship_date": shipped_at,
        "items": _ship_items(detail.get("orderItems"), order, required=True),
    }


def confirm_shipment(ctx: Ctx) -> Result:
    """Serve confirmShipment: first package ships the order; the same packageReferenceId edits."""
    order = ctx.order()
    body = ctx.json_body(require_type=False)
    _check_marketplace(body, order)
    cod = body.get("codCollectionMethod")
    if cod not in (None, "", "DirectPayment"):
        raise invalid("codCollectionMethod must be DirectPayment.")
    detail = _package_detail(body, order)
    _open_for_shipping(order)
    order_id = int(order.order_id or 0)
    packages = {p.package_reference_id: p for p in ctx.tx.packages(order_id)}
    previous = packages.get(detail["reference"])
    if previous is not None and inputs.load_json(previous.items) != detail["items"]:
        raise invalid("An edit must keep the package's orderItemId and quantity.")
    shipped_before = sum(
        sum(i["quantity"] for i in inputs.load_json(p.items))
        for ref, p in packages.items()
        if ref != detail["reference"]
    )
    units = shipped_before + sum(i["quantity"] for i in detail["items"])
    if units > order.quantity:
        raise invalid("The packages ship more units than were ordered.")
    strings = detail["strings"]
    ctx.tx.upsert_package(
        Package(
            order_id=order_id,
            package_reference_id=detail["reference"],
            carrier_code=str(strings["carrierCode"]),
            carrier_name=strings["carrierName"],
            shipping_method=strings["shippingMethod"],
            tracking_number=str(strings["trackingNumber"]),
            ship_date=detail["ship_date"],
            ship_from=strings["shipFromSupplySourceId"],
            items=json.dumps(detail["items"]),
            created_at=previous.created_at if previous else ctx.now,
            updated_at=ctx.now,
        )
    )
    if order.status in (orders.UNSHIPPED, orders.PARTIALLY_SHIPPED):
        if units >= order.quantity:
            orders.ship(ctx.tx, order, ctx.now)
        else:
            orders.ship_partly(ctx.tx, order, ctx.now)
    return 204, None


def _regulated(ctx: Ctx) -> Order:
    order = ctx.order()
    if not order.has_regulated_items:
        raise invalid("The order does not contain regulated items.")
    return order


def get_order_regulated_info(ctx: Ctx) -> Result:
    """Serve getOrderRegulatedInfo (regulated slots only; the fields need a covering RDT)."""
    order = _regulated(ctx)
    fields: list[dict[str, str]] = []
    if rdt.COVERS_PATH in ctx.elements:
        name = ctx.customer(order).name
        fields = [
            {"FieldId": "patient_name", "FieldLabel": "Patient name", "FieldType": "Text",
             "FieldValue": name},
            {"FieldId": "product_title", "FieldLabel": "Product", "FieldType": "Text",
             "FieldValue": order.title},
        ]  # fmt: skip
    status = order.verification_status or "Pending"
    if order.canceled_at is not None and status == "Pending":
        status = "Cancelled"
    verification: dict[str, Any] = {
        "Status": status,
        "RequiresMerchantAction": status == "Pending",
        "ValidRejectionReasons": [
            {"RejectionReasonId": rid, "RejectionReasonDescription": text}
            for rid, text in REJECTION_REASONS
        ],
    }
    if order.rejection_reason_id is not None:
        text = dict(REJECTION_REASONS).get(order.rejection_reason_id, "")
        verification["RejectionReason"] = {
            "RejectionReasonId": order.rejection_reason_id,
            "RejectionReasonDescription": text,
        }
    if order.reviewed_at is not None:
        verification["ReviewDate"] = clock.iso(order.reviewed_at)
    if order.verification_reviewer is not None:
        verification["ExternalReviewerId"] = order.verification_reviewer
    payload = {
        "AmazonOrderId": order.amazon_order_id,
        "RequiresDosageLabel": False,
        "RegulatedInformation": {"Fields": fields},
        "RegulatedOrderVerificationStatus": verification,
    }
    return 200, {"payload": payload}


def update_verification_status(ctx: Ctx) -> Result:
    """Serve updateVerificationStatus: approve or reject a Pending regulated order."""
    order = _regulated(ctx)
    body = ctx.json_body(require_type=True)
    update = body.get("regulatedOrderVerificationStatus")
    if not isinstance(update, dict):
        raise invalid("Missing request parameter: regulatedOrderVerificationStatus.")
    problems: list[tuple[str, str]] = []
    status = update.get("status")
    reviewer = update.get("externalReviewerId")
    reason = update.get("rejectionReasonId")
    if status is not None and status not in ("Approved", "Rejected"):
        message = "Invalid request parameter `status`. Must be one of [Approved, Rejected]."
        problems.append(("InvalidInput", message))
    if status == "Rejected" and not isinstance(reason, str):
        problems.append(("InvalidInput", "Missing request parameter: rejectionReasonId."))
    if not isinstance(reviewer, str) or not reviewer:
        problems.append(("InvalidInput", "Missing request parameter: externalReviewerId."))
    details = update.get("verificationDetails")
    if details is not None and not isinstance(details, dict):
        problems.append(("InvalidInput", "verificationDetails must be a JSON object."))
    if problems:
        raise SpApiError.many(400, problems)
    if status == "Rejected" and reason not in dict(REJECTION_REASONS):
        raise invalid("Invalid request parameter `rejectionReasonId`.")
    if status is None:
        return 204, None
    if order.verification_status != "Pending" or order.canceled_at is not None:
        raise invalid("The order's verification status can no longer be changed.")
    if status == "Approved":
        orders.approve_regulated(ctx.tx, order, ctx.now, str(reviewer))
    else:
        orders.reject_regulated(ctx.tx, order, ctx.now, str(reviewer), str(reason))
    return 204, None


def create_restricted_data_token(ctx: Ctx) -> Result:
    """Serve createRestrictedDataToken (Tokens API 2021-03-01)."""
    try:
        resources = rdt.parse_resources(ctx.json_body(require_type=False), ctx.restricted)
    except rdt.RdtInputError as err:
        raise invalid(str(err)) from None
    token = rdt.issue(ctx.tx, ctx.seller, ctx.caller.client_id, resources, ctx.now)
    return 200, {"restrictedDataToken": token, "expiresIn": rdt.RDT_TTL}
