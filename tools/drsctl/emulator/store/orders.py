"""Transaction accessors for orders."""

import dataclasses

from .base import TxBase
from .records import Order


class OrdersTx(TxBase):
    """Orders: creation, lookups, updates."""

    def insert_order(self, order: Order) -> Order:
        """Store a new order and return it with its row id."""
        return dataclasses.replace(order, order_id=self._insert("orders", order))

    def order_by_event(self, event_instance_id: str) -> Order | None:
        """Return an order by its DRS event instance id."""
        return self._one(
            Order, "SELECT * FROM orders WHERE event_instance_id = ?", event_instance_id
        )

    def order_by_amazon_id(self, amazon_order_id: str) -> Order | None:
        """Return an order by its 3-7-7 Amazon order id."""
        return self._one(Order, "SELECT * FROM orders WHERE amazon_order_id = ?", amazon_order_id)

    def orders(self, device_id: str | None = None, slot_id: str | None = None) -> list[Order]:
        """Return orders, oldest first, optionally for one device and/or slot."""
        return self._all(
            Order,
            "SELECT * FROM orders WHERE (?1 IS NULL OR device_id = ?1) "
            "AND (?2 IS NULL OR slot_id = ?2) ORDER BY order_id",
            device_id,
            slot_id,
        )

    def open_orders(self, device_id: str | None = None, slot_id: str | None = None) -> list[Order]:
        """Return orders neither delivered nor canceled, oldest first."""
        return self._all(
            Order,
            "SELECT * FROM orders WHERE delivered_at IS NULL AND canceled_at IS NULL "
            "AND (?1 IS NULL OR device_id = ?1) AND (?2 IS NULL OR slot_id = ?2) "
            "ORDER BY order_id",
            device_id,
            slot_id,
        )

    def update_order(self, order: Order) -> None:
        """Write back every mutable field of an order."""
        self._conn.execute(
            "UPDATE orders SET status = ?, updated_at = ?, authorized_at = ?, shipped_at = ?, "
            "delivered_at = ?, canceled_at = ?, cancel_reason = ?, verification_status = ?, "
            "verification_reviewer = ?, rejection_reason_id = ?, reviewed_at = ?, "
            "expected_delivery = ? WHERE order_id = ?",
            (
                order.status,
                order.updated_at,
                order.authorized_at,
                order.shipped_at,
                order.delivered_at,
                order.canceled_at,
                order.cancel_reason,
                order.verification_status,
                order.verification_reviewer,
                order.rejection_reason_id,
                order.reviewed_at,
                order.expected_delivery,
                order.order_id,
            ),
        )

    def seller_orders(self, seller_id: str) -> list[Order]:
        """Return a seller's orders, oldest first."""
        return self._all(
            Order,
            "SELECT * FROM orders WHERE seller_id = ? ORDER BY created_at, order_id",
            seller_id,
        )

    def orders_by_ids(self, order_ids: list[int]) -> list[Order]:
        """Return orders by row id, in the order given (missing ids are skipped)."""
        if not order_ids:
            return []
        marks = ", ".join("?" for _ in order_ids)
        found = {
            o.order_id: o
            for o in self._all(
                Order, f"SELECT * FROM orders WHERE order_id IN ({marks})", *order_ids
            )  # fmt: skip
        }
        return [found[i] for i in order_ids if i in found]
