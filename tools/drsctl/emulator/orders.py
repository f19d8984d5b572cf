"""Orders: creation by replenish and the lifecycle on the virtual clock.

Internal statuses follow the SP-API: ``Pending`` → ``Unshipped`` (payment authorized,
``authorize_after_s`` after creation) → ``Shipped`` → delivered (``delivered_at`` set,
``delivery_days`` after creation); or ``Canceled``. A seller may ship earlier with
:func:`ship`; delivery stays at ``expected_delivery``. Test orders run the same
lifecycle (DRS: "all notifications will proceed normally").
"""

import dataclasses
from decimal import Decimal, InvalidOperation
from typing import Any

from . import ids, inputs
from .marketplaces import DEFAULT_MARKETPLACE_ID
from .store import Device, Order, OrderItem, Slot, Tx

PENDING = "Pending"
UNSHIPPED = "Unshipped"
PARTIALLY_SHIPPED = "PartiallyShipped"
SHIPPED = "Shipped"
CANCELED = "Canceled"


class OrderConflict(Exception):
    """The order is not in a state that allows the requested change."""


def drs_status(order: Order | OrderItem) -> str:
    """Return the DRS getOrderInfo status of an order."""
    if order.canceled_at is not None:
        return "Canceled"
    if order.delivered_at is not None:
        return "Closed"
    if order.status == PENDING:
        return "Pending"
    return "Authorized"


def open_order(tx: Tx, device_id: str, slot_id: str) -> Order | None:
    """Return the slot's order that is neither delivered nor canceled, if any."""
    open_ = tx.open_orders(device_id, slot_id)
    return open_[0] if open_ else None


def replenish(tx: Tx, device: Device, slot: Slot) -> tuple[Order, bool]:
    """Order the slot's product unless an order is out; return (order, placed now)."""
    current = open_order(tx, device.device_id, slot.slot_id)
    if current is not None:
        return current, False
    return place(tx, device, slot, tx.now()), True


def place(tx: Tx, device: Device, slot: Slot, now: int) -> Order:
    """Create an order for the slot's product, due dates taken from the settings."""
    settings = tx.settings()
    authorize_due = now + settings.authorize_after_s
    delivery = max(now + round(settings.delivery_days * 86400), authorize_due)
    while True:
        amazon_order_id = ids.amazon_order_id()
        if tx.order_by_amazon_id(amazon_order_id) is None:
            break
    seller = tx.seller(device.seller_id)
    return tx.insert_order(
        Order(
            amazon_order_id=amazon_order_id,
            event_instance_id=ids.event_instance_id(),
            device_id=device.device_id,
            slot_id=slot.slot_id,
            customer_id=device.customer_id,
            seller_id=device.seller_id,
            marketplace_id=seller.marketplace_id if seller is not None else DEFAULT_MARKETPLACE_ID,
            status=PENDING,
            is_test=device.test_orders,
            order_item_id=ids.order_item_id(),
            asin=slot.asin,
            seller_sku=f"{device.model}-{slot.slot_id}".upper(),
            title=slot.title,
            quantity=slot.quantity,
            unit=slot.unit,
            item_price=slot.price,
            currency=slot.currency,
            fulfillment_channel="MFN",
            ship_service_level="Std US D2D Dom",
            created_at=now,
            updated_at=now,
            authorize_due_at=authorize_due,
            expected_delivery=delivery,
            has_regulated_items=slot.regulated,
            verification_status="Pending" if slot.regulated else None,
        )
    )


def _save(tx: Tx, order: Order, at: int, **changes: Any) -> Order:
    """Apply ``changes`` to an order, stamp ``updated_at`` and store it."""
    order = dataclasses.replace(order, updated_at=at, **changes)
    tx.update_order(order)
    return order


def ship(tx: Tx, order: Order, at: int) -> Order:
    """Shipment confirmed: ``Unshipped`` → ``Shipped`` (by the clock or by the seller)."""
    if order.status not in (UNSHIPPED, PARTIALLY_SHIPPED):
        raise OrderConflict(f"order {order.amazon_order_id} is {order.status}, not Unshipped")
    return _save(tx, order, at, status=SHIPPED, shipped_at=at)


def ship_partly(tx: Tx, order: Order, at: int) -> Order:
    """Some, not all, of the items left: ``Unshipped`` → ``PartiallyShipped``."""
    if order.status not in (UNSHIPPED, PARTIALLY_SHIPPED):
        raise OrderConflict(f"order {order.amazon_order_id} is {order.status}, not Unshipped")
    return _save(tx, order, at, status=PARTIALLY_SHIPPED)


def advance_to(tx: Tx, now: int) -> int:
    """Run every transition due at or before ``now``; return how many steps were taken.

    Payment is authorized at ``authorize_due_at``; shipping (unless the seller shipped
    earlier) and delivery happen at ``expected_delivery``. Done in SQL on the due orders
    only, so a clock move costs the same however many orders are stored.
    """
    return tx.run_due_transitions(now)


def reschedule_delivery(tx: Tx, order: Order, at: int) -> Order:
    """Give an order that is still on its way its own delivery time ``at`` (ships then too).

    The simulator uses it to make each order take its own lead time; an order already
    delivered or canceled cannot move, nor can a delivery go before the order's payment
    is authorized.
    """
    if order.canceled_at is not None or order.delivered_at is not None:
        raise OrderConflict(f"order {order.amazon_order_id} is no longer on its way")
    if at < order.authorize_due_at:
        raise OrderConflict(
            f"order {order.amazon_order_id} cannot arrive before its payment is authorized"
        )
    return _save(tx, order, order.updated_at, expected_delivery=at)


def cancel(tx: Tx, order: Order, now: int, reason: str) -> Order:
    """Cancel an order that has not shipped yet."""
    if order.canceled_at is not None:
        raise OrderConflict(f"order {order.amazon_order_id} is already canceled")
    if order.status not in (PENDING, UNSHIPPED):
        raise OrderConflict(f"order {order.amazon_order_id} has shipped")
    return _save(tx, order, now, status=CANCELED, canceled_at=now, cancel_reason=reason)


def customer_cancel(tx: Tx, order: Order, now: int) -> Order:
    """Cancel on the customer's behalf: only within ``cancel_window_s`` and before shipping."""
    if now >= order.created_at + tx.settings().cancel_window_s:
        raise OrderConflict(f"order {order.amazon_order_id} is past the cancel window")
    return cancel(tx, order, now, "BuyerCanceled")


def cancel_test_orders(tx: Tx, device_id: str, slot_id: str, now: int) -> bool:
    """Cancel the slot's open test orders; return whether there was one."""
    open_tests = [o for o in tx.open_orders(device_id, slot_id) if o.is_test]
    for order in open_tests:
        _save(tx, order, now, status=CANCELED, canceled_at=now, cancel_reason="TestOrderCanceled")
    return bool(open_tests)


def reject_regulated(tx: Tx, order: Order, now: int, reviewer: str, reason_id: str) -> Order:
    """The seller rejected a regulated order's information: record it, cancel if unshipped."""
    order = _save(
        tx,
        order,
        now,
        verification_status="Rejected",
        verification_reviewer=reviewer,
        rejection_reason_id=reason_id,
        reviewed_at=now,
    )
    if order.status in (PENDING, UNSHIPPED) and order.canceled_at is None:
        order = cancel(tx, order, now, "RegulatedOrderRejected")
    return order


def approve_regulated(tx: Tx, order: Order, now: int, reviewer: str) -> Order:
    """The seller approved a regulated order's information."""
    return _save(
        tx,
        order,
        now,
        verification_status="Approved",
        verification_reviewer=reviewer,
        rejection_reason_id=None,
        reviewed_at=now,
    )


def quantity_shipped(tx: Tx, order: Order) -> int:
    """Return how many units have shipped (all of them once the order is ``Shipped``)."""
    if order.status == SHIPPED:
        return order.quantity
    if order.status == PARTIALLY_SHIPPED and order.order_id is not None:
        total = 0
        for package in tx.packages(order.order_id):
            total += sum(int(item["quantity"]) for item in inputs.load_json(package.items))
        return min(total, order.quantity)
    return 0


def line_total(order: Order) -> str:
    """Return the item price times the quantity, as Amazon formats amounts ("39.98")."""
    try:
        return f"{Decimal(order.item_price) * order.quantity:.2f}"
    except InvalidOperation:
        return "0.00"


def buyer_visible(order: Order) -> bool:
    """Whether buyer contact data exists for the seller (not while Pending or Canceled)."""
    return order.status in (UNSHIPPED, PARTIALLY_SHIPPED, SHIPPED)


def as_json(order: Order) -> dict[str, Any]:
    """Return the control-API view of an order (times in Unix seconds)."""
    view = dataclasses.asdict(order)
    del view["order_id"]
    view["drs_status"] = drs_status(order)
    return view
