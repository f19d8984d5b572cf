"""Transaction accessors for orders."""

import dataclasses
import functools
from typing import Any

from .base import TxBase
from .records import Order, OrderItem, column_list

_SELECT = f"SELECT {column_list(Order, 'orders')} FROM orders"
_BY_EVENT = _SELECT + " WHERE event_instance_id = ?"
_ITEM_BY_EVENT = (
    f"SELECT {column_list(OrderItem, 'orders')} FROM orders WHERE event_instance_id = ?"
)
_OPEN = "delivered_at IS NULL AND canceled_at IS NULL"
"""An order still out: neither delivered nor canceled."""

_SLOT_STATE = (
    "SELECT s.subscribed, (SELECT o.event_instance_id FROM orders o WHERE o.device_id = "
    f"s.device_id AND o.slot_id = s.slot_id AND {_OPEN} "
    "ORDER BY o.order_id LIMIT 1) FROM slots s WHERE s.device_id = ? AND s.slot_id = ?"
)


class OrdersTx(TxBase):
    """Orders: creation, lookups, updates."""

    def insert_order(self, order: Order) -> Order:
        """Store a new order and return it with its row id."""
        return dataclasses.replace(order, order_id=self._insert("orders", order))

    def order_by_event(self, event_instance_id: str) -> Order | None:
        """Return an order by its DRS event instance id."""
        return self._record(Order, _BY_EVENT, event_instance_id)

    def order_item_by_event(self, event_instance_id: str) -> OrderItem | None:
        """Return what DRS shows of an order (9 of its 34 columns) by its event instance id."""
        return self._record(OrderItem, _ITEM_BY_EVENT, event_instance_id)

    def order_by_amazon_id(self, amazon_order_id: str) -> Order | None:
        """Return an order by its 3-7-7 Amazon order id."""
        return self._one(Order, "SELECT * FROM orders WHERE amazon_order_id = ?", amazon_order_id)

    def orders(
        self,
        device_id: str | None = None,
        slot_id: str | None = None,
        updated_since: int | None = None,
    ) -> list[Order]:
        """Return orders of one device and/or slot, oldest first.

        With ``updated_since``: only those updated at or after that time, in the order
        they changed.
        """
        where, args = _filter(device_id, slot_id)
        order_by = " ORDER BY order_id"
        if updated_since is not None:
            where.append("updated_at >= ?")
            args.append(updated_since)
            order_by = " ORDER BY updated_at, order_id"  # also what lets it use the index
        return self._records(Order, _select(tuple(where), order_by), *args)

    def open_orders(self, device_id: str, slot_id: str | None = None) -> list[Order]:
        """Return a device's orders neither delivered nor canceled, oldest first."""
        where, args = _filter(device_id, slot_id)
        where.append(_OPEN)
        return self._records(Order, _select(tuple(where), " ORDER BY order_id"), *args)

    def slot_state(self, device_id: str, slot_id: str) -> tuple[bool, str | None] | None:
        """Whether a device's slot is subscribed, and its oldest open order's event id.

        One query of two columns (a replenish that finds an order in progress needs no
        more); None if the device has no such slot.
        """
        row = self._cur.execute(_SLOT_STATE, (device_id, slot_id)).fetchone()
        return None if row is None else (bool(row[0]), row[1])

    def run_due_transitions(self, now: int) -> int:
        """Authorize, ship and deliver the orders due by ``now``, each at its due time.

        The same steps :mod:`..orders` takes one order at a time, as three statements
        that only visit the orders due (partial indexes on the due times); returns the
        number of steps taken.
        """
        steps = 0
        for sql in (
            "UPDATE orders SET status = 'Unshipped', authorized_at = authorize_due_at, "
            "updated_at = authorize_due_at WHERE status = 'Pending' AND canceled_at IS NULL "
            "AND authorize_due_at <= ?",
            "UPDATE orders SET status = 'Shipped', shipped_at = expected_delivery, "
            "updated_at = expected_delivery WHERE status IN ('Unshipped', 'PartiallyShipped') "
            "AND delivered_at IS NULL AND canceled_at IS NULL AND expected_delivery <= ?",
            "UPDATE orders SET delivered_at = expected_delivery, updated_at = expected_delivery "
            "WHERE status = 'Shipped' AND delivered_at IS NULL AND canceled_at IS NULL "
            "AND expected_delivery <= ?",
        ):
            steps += self._conn.execute(sql, (now,)).rowcount
        return steps

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

    def order_ids_where(self, where: str, args: list[Any], order_by: str) -> list[int]:
        """Return the row ids of the orders meeting ``where`` (SQL terms, ``?`` for args)."""
        sql = f"SELECT order_id FROM orders WHERE {where} ORDER BY {order_by}"
        return [row[0] for row in self._conn.execute(sql, args)]

    def orders_where(self, where: str, args: list[Any], order_by: str) -> list[Order]:
        """Return the orders meeting ``where`` (SQL terms, ``?`` for args)."""
        return self._all(Order, f"SELECT * FROM orders WHERE {where} ORDER BY {order_by}", *args)

    def order_json_where(
        self, where: str, args: list[Any], order_by: str, variant: int, limit: int = -1
    ) -> list[tuple[int, int, bytes | None]]:
        """The orders meeting ``where``, at most ``limit``: (row id, created_at, JSON).

        The JSON is the order's encoded SP-API rendering in ``variant`` if stored (see
        :meth:`store_order_json`), else None. The terms of ``where`` name columns of
        ``orders`` (``order_json`` has ``key`` and ``body`` only).
        """
        sql = (
            "SELECT order_id, created_at, body FROM orders LEFT JOIN order_json "
            f"ON key = order_id * 4 + ? WHERE {where} ORDER BY {order_by} LIMIT ?"
        )
        cursor = self._conn.cursor()
        cursor.row_factory = None  # plain tuples
        return cursor.execute(sql, [variant, *args, limit]).fetchall()

    def store_order_json(self, variant: int, bodies: dict[int, bytes]) -> None:
        """Keep orders' encoded renderings (by row id) until the orders change."""
        self._conn.executemany(
            "INSERT OR REPLACE INTO order_json (key, body) VALUES (?, ?)",
            [(order_id * 4 + variant, body) for order_id, body in bodies.items()],
        )

    def last_order_id(self) -> int:
        """Return the newest order's row id (0 without orders)."""
        return int(
            self._conn.execute("SELECT COALESCE(MAX(order_id), 0) FROM orders").fetchone()[0]
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


def _filter(device_id: str | None, slot_id: str | None) -> tuple[list[str], list[object]]:
    """WHERE terms for the given keys only (a term per absent key would defeat the index)."""
    where: list[str] = []
    args: list[object] = []
    if device_id is not None:
        where.append("device_id = ?")
        args.append(device_id)
    if slot_id is not None:
        where.append("slot_id = ?")
        args.append(slot_id)
    return where, args


@functools.cache
def _select(where: tuple[str, ...], order_by: str) -> str:
    """The query of orders meeting every term of ``where`` (one string per query shape)."""
    return _SELECT + (" WHERE " + " AND ".join(where) if where else "") + order_by
