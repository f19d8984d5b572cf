"""Transaction accessors for the back office: sellers, MWS keys, RDTs, packages, page tokens."""

from typing import Any

from .. import inputs
from .base import TxBase
from .records import MwsKey, Package, Rdt, Seller


class BackOfficeTx(TxBase):
    """What sellers own: credentials, RDTs, packages, shipment events, NextTokens."""

    def insert_seller(self, seller: Seller) -> None:
        """Store a new seller."""
        self._insert("sellers", seller)

    def seller(self, seller_id: str) -> Seller | None:
        """Return a seller by id."""
        return self._one(Seller, "SELECT * FROM sellers WHERE seller_id = ?", seller_id)

    def sellers(self) -> list[Seller]:
        """Return every seller in id order."""
        return self._all(Seller, "SELECT * FROM sellers ORDER BY seller_id")

    def insert_mws_key(self, key: MwsKey) -> None:
        """Store an MWS access key pair."""
        self._insert("mws_keys", key)

    def mws_key(self, access_key: str) -> MwsKey | None:
        """Return an MWS key pair by access key id."""
        return self._one(MwsKey, "SELECT * FROM mws_keys WHERE access_key = ?", access_key)

    def insert_rdt(self, rdt: Rdt) -> None:
        """Store a restricted data token."""
        self._insert("rdts", rdt)

    def rdt(self, token_hash: str) -> Rdt | None:
        """Return a restricted data token by digest."""
        return self._one(Rdt, "SELECT * FROM rdts WHERE token_hash = ?", token_hash)

    def packages(self, order_id: int) -> list[Package]:
        """Return an order's packages in creation order."""
        return self._all(
            Package,
            "SELECT * FROM packages WHERE order_id = ? ORDER BY created_at, package_reference_id",
            order_id,
        )

    def upsert_package(self, package: Package) -> None:
        """Store a package, replacing the one with the same reference id (an edit)."""
        self._conn.execute(
            "DELETE FROM packages WHERE order_id = ? AND package_reference_id = ?",
            (package.order_id, package.package_reference_id),
        )
        self._insert("packages", package)

    def add_shipment_event(self, order_id: int, status: str, items: str, at: int) -> None:
        """Record an updateShipmentStatus call."""
        self._conn.execute(
            "INSERT INTO shipment_events (order_id, status, items, at) VALUES (?, ?, ?, ?)",
            (order_id, status, items, at),
        )

    def shipment_events(self, order_id: int) -> list[dict[str, Any]]:
        """Return an order's shipment status history, oldest first."""
        rows = self._conn.execute(
            "SELECT status, items, at FROM shipment_events WHERE order_id = ? ORDER BY id",
            (order_id,),
        )
        return [{"status": r["status"], "items": inputs.load_json(r["items"]), "at": r["at"]}
                for r in rows]  # fmt: skip

    def insert_page_token(
        self, token_hash: str, seller_id: str, operation: str, state: str, now: int
    ) -> None:
        """Store the state behind a NextToken."""
        self._conn.execute(
            "INSERT INTO page_tokens (token_hash, seller_id, operation, state, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (token_hash, seller_id, operation, state, now),
        )

    def page_token(self, token_hash: str, seller_id: str, operation: str) -> str | None:
        """Return the state of a seller's NextToken for an operation, if it exists."""
        row = self._conn.execute(
            "SELECT state FROM page_tokens WHERE token_hash = ? AND seller_id = ? "
            "AND operation = ?",
            (token_hash, seller_id, operation),
        ).fetchone()
        return None if row is None else str(row[0])
