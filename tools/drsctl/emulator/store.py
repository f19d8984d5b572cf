"""All emulator state in one SQLite file (WAL), behind one connection and one lock.

Every read and write goes through :meth:`Store.tx`, which holds the lock for the whole
transaction and hands out a :class:`Tx` with small typed accessors. Secrets are stored
as digests only (see :mod:`.ids`). Times are Unix seconds on the virtual clock.
"""

import dataclasses
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from . import inputs

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE clock (id INTEGER PRIMARY KEY CHECK (id = 1), now INTEGER NOT NULL);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE customers (
    customer_id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL,
    created_at INTEGER NOT NULL);
CREATE TABLE lwa_clients (
    client_id TEXT PRIMARY KEY, secret_hash TEXT NOT NULL, redirect_uri TEXT NOT NULL,
    created_at INTEGER NOT NULL);
CREATE TABLE devices (
    device_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers,
    client_id TEXT NOT NULL REFERENCES lwa_clients,
    seller_id TEXT NOT NULL, model TEXT NOT NULL, serial TEXT NOT NULL,
    test_orders INTEGER NOT NULL, registered_at INTEGER NOT NULL, deregistered_at INTEGER);
CREATE UNIQUE INDEX devices_active_serial ON devices(serial) WHERE deregistered_at IS NULL;
CREATE TABLE slots (
    device_id TEXT NOT NULL REFERENCES devices, slot_id TEXT NOT NULL,
    asin TEXT NOT NULL, quantity INTEGER NOT NULL, unit TEXT NOT NULL,
    title TEXT NOT NULL, price TEXT NOT NULL, currency TEXT NOT NULL,
    subscribed INTEGER NOT NULL,
    PRIMARY KEY (device_id, slot_id));
CREATE TABLE auth_codes (
    code_hash TEXT PRIMARY KEY, device_id TEXT NOT NULL REFERENCES devices,
    client_id TEXT NOT NULL, redirect_uri TEXT NOT NULL,
    expires_at INTEGER NOT NULL, used INTEGER NOT NULL);
CREATE TABLE tokens (
    token_id INTEGER PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    token_hash TEXT NOT NULL UNIQUE, client_id TEXT NOT NULL, device_id TEXT,
    issued_at INTEGER NOT NULL, expires_at INTEGER, revoked INTEGER NOT NULL);
CREATE INDEX tokens_device ON tokens(device_id);
-- One row per order; a DRS order has exactly one item, whose fields live here too
-- (order_item_id, asin, seller_sku, title, quantity, unit, item_price, currency).
CREATE TABLE orders (
    order_id INTEGER PRIMARY KEY,
    amazon_order_id TEXT NOT NULL UNIQUE, event_instance_id TEXT NOT NULL UNIQUE,
    device_id TEXT NOT NULL REFERENCES devices, slot_id TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers, seller_id TEXT NOT NULL,
    marketplace_id TEXT NOT NULL, status TEXT NOT NULL, is_test INTEGER NOT NULL,
    order_item_id TEXT NOT NULL, asin TEXT NOT NULL, seller_sku TEXT NOT NULL,
    title TEXT NOT NULL, quantity INTEGER NOT NULL, unit TEXT NOT NULL,
    item_price TEXT NOT NULL, currency TEXT NOT NULL,
    fulfillment_channel TEXT NOT NULL, ship_service_level TEXT NOT NULL,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
    authorize_due_at INTEGER NOT NULL, authorized_at INTEGER, shipped_at INTEGER,
    delivered_at INTEGER, canceled_at INTEGER, cancel_reason TEXT,
    expected_delivery INTEGER NOT NULL);
CREATE INDEX orders_slot ON orders(device_id, slot_id);
CREATE INDEX orders_open ON orders(status) WHERE delivered_at IS NULL AND canceled_at IS NULL;
CREATE TABLE requests (
    id INTEGER PRIMARY KEY, t INTEGER NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,
    route TEXT NOT NULL, status INTEGER, device_id TEXT, fault TEXT);
CREATE TABLE reports (
    id INTEGER PRIMARY KEY, device_id TEXT NOT NULL, kind TEXT NOT NULL, slot_id TEXT,
    body TEXT NOT NULL, received_at INTEGER NOT NULL);
CREATE TABLE faults (
    fault_id INTEGER PRIMARY KEY, route TEXT NOT NULL, kind TEXT NOT NULL,
    status INTEGER NOT NULL, remaining INTEGER NOT NULL, after INTEGER NOT NULL,
    created_at INTEGER NOT NULL);
"""

# Version 2: the back office (sellers, SP-API, RDTs, MWS). Applied on top of version 1,
# so a version-1 database is upgraded in place.
_SCHEMA_V2 = """
CREATE TABLE sellers (
    seller_id TEXT PRIMARY KEY, name TEXT NOT NULL, marketplace_id TEXT NOT NULL,
    created_at INTEGER NOT NULL);
-- SigV2 is a shared-secret HMAC: the server needs the secret key itself, so it is the one
-- secret stored retrievably. It is never logged and never returned after creation.
CREATE TABLE mws_keys (
    access_key TEXT PRIMARY KEY, secret_key TEXT NOT NULL,
    seller_id TEXT NOT NULL REFERENCES sellers, auth_token_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL);
ALTER TABLE tokens ADD COLUMN seller_id TEXT;
CREATE TABLE rdts (
    token_hash TEXT PRIMARY KEY, seller_id TEXT NOT NULL, client_id TEXT NOT NULL,
    resources TEXT NOT NULL, issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
CREATE TABLE rate_buckets (
    key TEXT PRIMARY KEY, tokens REAL NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE flags (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE page_tokens (
    token_hash TEXT PRIMARY KEY, seller_id TEXT NOT NULL, operation TEXT NOT NULL,
    state TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE packages (
    order_id INTEGER NOT NULL REFERENCES orders, package_reference_id TEXT NOT NULL,
    carrier_code TEXT NOT NULL, carrier_name TEXT, shipping_method TEXT,
    tracking_number TEXT NOT NULL, ship_date INTEGER NOT NULL, ship_from TEXT,
    items TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
    PRIMARY KEY (order_id, package_reference_id));
CREATE TABLE shipment_events (
    id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES orders,
    status TEXT NOT NULL, items TEXT NOT NULL, at INTEGER NOT NULL);
ALTER TABLE slots ADD COLUMN regulated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN has_regulated_items INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN verification_status TEXT;
ALTER TABLE orders ADD COLUMN verification_reviewer TEXT;
ALTER TABLE orders ADD COLUMN rejection_reason_id TEXT;
ALTER TABLE orders ADD COLUMN reviewed_at INTEGER;
CREATE INDEX orders_seller ON orders(seller_id, created_at);
"""


@dataclasses.dataclass(frozen=True)
class Settings:
    """Knobs of the order lifecycle (see the control API)."""

    authorize_after_s: int = 600
    delivery_days: float = 2.0
    cancel_window_s: int = 86400


MAX_WINDOW_DAYS = 3650
"""Upper bound of every settings window (about ten years)."""

SETTING_LIMITS: dict[str, tuple[type, int]] = {
    "authorize_after_s": (int, MAX_WINDOW_DAYS * 86400),
    "delivery_days": (float, MAX_WINDOW_DAYS),
    "cancel_window_s": (int, MAX_WINDOW_DAYS * 86400),
}
"""Each setting's kind (``int``: whole numbers only) and upper bound (lower bound 0)."""


def setting_ok(name: str, value: Any) -> bool:
    """Return whether ``value`` is acceptable for the setting ``name``."""
    if name not in SETTING_LIMITS:
        return False
    kind, high = SETTING_LIMITS[name]
    if kind is int:
        return inputs.int_within(value, 0, high)
    return inputs.number_within(value, 0, high)


@dataclasses.dataclass(frozen=True)
class Customer:
    """An Amazon customer (the buyer)."""

    customer_id: str
    name: str
    email: str
    created_at: int


@dataclasses.dataclass(frozen=True)
class Client:
    """An LwA security profile (client id, digest of the secret)."""

    client_id: str
    secret_hash: str
    redirect_uri: str
    created_at: int


@dataclasses.dataclass(frozen=True)
class Device:
    """A registered DRS device; the brand that makes it is the seller."""

    device_id: str
    customer_id: str
    client_id: str
    seller_id: str
    model: str
    serial: str
    test_orders: bool
    registered_at: int
    deregistered_at: int | None = None


@dataclasses.dataclass(frozen=True)
class Slot:
    """A device slot and the product the customer chose for it."""

    device_id: str
    slot_id: str
    asin: str
    quantity: int
    unit: str
    title: str
    price: str
    currency: str
    subscribed: bool
    regulated: bool = False


@dataclasses.dataclass(frozen=True)
class AuthCode:
    """An LwA authorization code (stored by digest)."""

    code_hash: str
    device_id: str
    client_id: str
    redirect_uri: str
    expires_at: int
    used: bool


@dataclasses.dataclass(frozen=True)
class Token:
    """An LwA access or refresh token (stored by digest)."""

    kind: str
    token_hash: str
    client_id: str
    device_id: str | None
    issued_at: int
    expires_at: int | None
    revoked: bool
    token_id: int | None = None
    seller_id: str | None = None


@dataclasses.dataclass(frozen=True)
class Order:
    """An Amazon order placed by a replenish call, with its single item."""

    amazon_order_id: str
    event_instance_id: str
    device_id: str
    slot_id: str
    customer_id: str
    seller_id: str
    marketplace_id: str
    status: str
    is_test: bool
    order_item_id: str
    asin: str
    seller_sku: str
    title: str
    quantity: int
    unit: str
    item_price: str
    currency: str
    fulfillment_channel: str
    ship_service_level: str
    created_at: int
    updated_at: int
    authorize_due_at: int
    expected_delivery: int
    authorized_at: int | None = None
    shipped_at: int | None = None
    delivered_at: int | None = None
    canceled_at: int | None = None
    cancel_reason: str | None = None
    order_id: int | None = None
    has_regulated_items: bool = False
    verification_status: str | None = None
    verification_reviewer: str | None = None
    rejection_reason_id: str | None = None
    reviewed_at: int | None = None


@dataclasses.dataclass(frozen=True)
class Fault:
    """An armed fault: the next ``remaining`` calls to ``route`` misbehave."""

    route: str
    kind: str
    status: int
    remaining: int
    after: bool
    created_at: int
    fault_id: int | None = None


@dataclasses.dataclass(frozen=True)
class Seller:
    """A selling partner (a brand): its devices' orders are its orders."""

    seller_id: str
    name: str
    marketplace_id: str
    created_at: int


@dataclasses.dataclass(frozen=True)
class MwsKey:
    """An MWS access key pair of a seller (the secret is needed to verify SigV2)."""

    access_key: str
    secret_key: str
    seller_id: str
    auth_token_hash: str
    created_at: int


@dataclasses.dataclass(frozen=True)
class Rdt:
    """A restricted data token (stored by digest) and the resources it covers (JSON)."""

    token_hash: str
    seller_id: str
    client_id: str
    resources: str
    issued_at: int
    expires_at: int


@dataclasses.dataclass(frozen=True)
class Package:
    """A package of a confirmed shipment (``items`` is JSON)."""

    order_id: int
    package_reference_id: str
    carrier_code: str
    carrier_name: str | None
    shipping_method: str | None
    tracking_number: str
    ship_date: int
    ship_from: str | None
    items: str
    created_at: int
    updated_at: int


@dataclasses.dataclass(frozen=True)
class Report:
    """A slotStatus or deviceStatus body as received."""

    device_id: str
    kind: str
    slot_id: str | None
    body: str
    received_at: int
    id: int | None = None


_T = TypeVar("_T")


def _from_row(cls: type[_T], row: sqlite3.Row) -> _T:
    """Build dataclass ``cls`` from a row, turning SQLite 0/1 into bool where declared."""
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        value = row[field.name]
        values[field.name] = bool(value) if field.type is bool else value
    return cls(**values)


class Tx:
    """Typed accessors on one open transaction (obtain one from :meth:`Store.tx`)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    # -- helpers ---------------------------------------------------------------
    def _one(self, cls: type[_T], sql: str, *args: Any) -> _T | None:
        row = self._conn.execute(sql, args).fetchone()
        return None if row is None else _from_row(cls, row)

    def _all(self, cls: type[_T], sql: str, *args: Any) -> list[_T]:
        return [_from_row(cls, row) for row in self._conn.execute(sql, args)]

    def _insert(self, table: str, record: Any) -> int:
        values = {k: v for k, v in dataclasses.asdict(record).items() if v is not None}
        cols = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        cur = self._conn.execute(
            f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(values.values())
        )
        return int(cur.lastrowid or 0)

    # -- clock and settings ----------------------------------------------------
    def now(self) -> int:
        """Return the virtual clock (Unix seconds)."""
        return int(self._conn.execute("SELECT now FROM clock WHERE id = 1").fetchone()[0])

    def set_now(self, t: int) -> None:
        """Store the virtual clock (use :mod:`.clock`, which also runs order transitions)."""
        self._conn.execute("UPDATE clock SET now = ? WHERE id = 1", (t,))

    def settings(self) -> Settings:
        """Return the current settings (defaults for keys never set)."""
        stored: dict[str, Any] = {}
        for key, raw in self._conn.execute("SELECT key, value FROM settings"):
            try:
                value = inputs.load_json(raw)
            except inputs.InputError:
                value = None
            if setting_ok(key, value):  # bad data from an older emulator: use the default
                stored[key] = value
        return dataclasses.replace(Settings(), **stored)

    def update_settings(self, values: dict[str, Any]) -> None:
        """Store validated setting values."""
        self._conn.executemany(
            "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)",
            [(k, json.dumps(v)) for k, v in values.items()],
        )

    # -- customers, clients, devices, slots ------------------------------------
    def insert_customer(self, customer: Customer) -> None:
        """Store a new customer."""
        self._insert("customers", customer)

    def customer(self, customer_id: str) -> Customer | None:
        """Return a customer by id."""
        return self._one(Customer, "SELECT * FROM customers WHERE customer_id = ?", customer_id)

    def insert_client(self, client: Client) -> None:
        """Store a new LwA client."""
        self._insert("lwa_clients", client)

    def client(self, client_id: str) -> Client | None:
        """Return an LwA client by id."""
        return self._one(Client, "SELECT * FROM lwa_clients WHERE client_id = ?", client_id)

    def insert_device(self, device: Device, slots: list[Slot]) -> None:
        """Store a new device with its slots."""
        self._insert("devices", device)
        for slot in slots:
            self._insert("slots", slot)

    def device(self, device_id: str) -> Device | None:
        """Return a device (registered or not) by id."""
        return self._one(Device, "SELECT * FROM devices WHERE device_id = ?", device_id)

    def registered_device_by_serial(self, serial: str) -> Device | None:
        """Return the registered device with this serial, if any."""
        return self._one(
            Device,
            "SELECT * FROM devices WHERE serial = ? AND deregistered_at IS NULL",
            serial,
        )

    def deregister_device(self, device_id: str, at: int) -> None:
        """Mark a device unregistered and revoke all its tokens."""
        self._conn.execute(
            "UPDATE devices SET deregistered_at = ? WHERE device_id = ?", (at, device_id)
        )
        self._conn.execute("UPDATE tokens SET revoked = 1 WHERE device_id = ?", (device_id,))

    def slot(self, device_id: str, slot_id: str) -> Slot | None:
        """Return one slot of a device."""
        return self._one(
            Slot, "SELECT * FROM slots WHERE device_id = ? AND slot_id = ?", device_id, slot_id
        )

    def slots(self, device_id: str) -> list[Slot]:
        """Return a device's slots in id order."""
        return self._all(
            Slot, "SELECT * FROM slots WHERE device_id = ? ORDER BY slot_id", device_id
        )

    # -- LwA -------------------------------------------------------------------
    def insert_auth_code(self, code: AuthCode) -> None:
        """Store a new authorization code."""
        self._insert("auth_codes", code)

    def auth_code(self, code_hash: str) -> AuthCode | None:
        """Return an authorization code by digest."""
        return self._one(AuthCode, "SELECT * FROM auth_codes WHERE code_hash = ?", code_hash)

    def use_auth_code(self, code_hash: str) -> None:
        """Mark an authorization code used (codes are single use)."""
        self._conn.execute("UPDATE auth_codes SET used = 1 WHERE code_hash = ?", (code_hash,))

    def insert_token(self, token: Token) -> None:
        """Store a new token."""
        self._insert("tokens", token)

    def token(self, token_hash: str) -> Token | None:
        """Return a token by digest."""
        return self._one(Token, "SELECT * FROM tokens WHERE token_hash = ?", token_hash)

    def revoke_tokens(self, device_id: str, kind: str) -> int:
        """Revoke a device's live tokens of one kind; return how many."""
        cur = self._conn.execute(
            "UPDATE tokens SET revoked = 1 WHERE device_id = ? AND kind = ? AND revoked = 0",
            (device_id, kind),
        )
        return cur.rowcount

    def expire_access_tokens(self, device_id: str, at: int) -> int:
        """Make a device's unexpired access tokens expire at ``at``; return how many."""
        cur = self._conn.execute(
            "UPDATE tokens SET expires_at = ? WHERE device_id = ? AND kind = 'access' "
            "AND revoked = 0 AND expires_at > ?",
            (at, device_id, at),
        )
        return cur.rowcount

    # -- orders ----------------------------------------------------------------
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
            "verification_reviewer = ?, rejection_reason_id = ?, reviewed_at = ? "
            "WHERE order_id = ?",
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

    # -- back office: sellers, MWS keys, RDTs, packages --------------------------
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

    # -- page tokens, rate buckets, flags ------------------------------------------
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

    def bucket(self, key: str) -> tuple[float, int] | None:
        """Return (tokens, updated_at) of a rate-limit bucket."""
        row = self._conn.execute(
            "SELECT tokens, updated_at FROM rate_buckets WHERE key = ?", (key,)
        ).fetchone()
        return None if row is None else (float(row[0]), int(row[1]))

    def set_bucket(self, key: str, tokens: float, at: int) -> None:
        """Store a rate-limit bucket's level."""
        self._conn.execute(
            "INSERT OR REPLACE INTO rate_buckets (key, tokens, updated_at) VALUES (?, ?, ?)",
            (key, tokens, at),
        )

    def buckets(self) -> list[tuple[str, float, int]]:
        """Return every rate-limit bucket (key, tokens, updated_at)."""
        rows = self._conn.execute("SELECT key, tokens, updated_at FROM rate_buckets ORDER BY key")
        return [(str(r[0]), float(r[1]), int(r[2])) for r in rows]

    def clear_buckets(self) -> int:
        """Forget every bucket (they start full again); return how many there were."""
        return self._conn.execute("DELETE FROM rate_buckets").rowcount

    def flag(self, key: str, default: Any) -> Any:
        """Return a stored flag (JSON) or ``default``."""
        row = self._conn.execute("SELECT value FROM flags WHERE key = ?", (key,)).fetchone()
        if row is None:
            return default
        try:
            return inputs.load_json(row[0])
        except inputs.InputError:
            return default

    def set_flag(self, key: str, value: Any) -> None:
        """Store a flag (JSON)."""
        self._conn.execute(
            "INSERT OR REPLACE INTO flags (key, value) VALUES (?, ?)", (key, json.dumps(value))
        )

    # -- request log, reports --------------------------------------------------
    def log_request(self, t: int, method: str, path: str, route: str) -> int:
        """Start a request log entry; return its id."""
        cur = self._conn.execute(
            "INSERT INTO requests (t, method, path, route) VALUES (?, ?, ?, ?)",
            (t, method, path, route),
        )
        return int(cur.lastrowid or 0)

    def finish_request(
        self, entry_id: int, status: int | None, device_id: str | None, fault: str | None
    ) -> None:
        """Complete a request log entry."""
        self._conn.execute(
            "UPDATE requests SET status = ?, device_id = ?, fault = ? WHERE id = ?",
            (status, device_id, fault, entry_id),
        )

    def requests(self, since: int, limit: int) -> list[dict[str, Any]]:
        """Return request log entries with id > ``since``, oldest first."""
        rows = self._conn.execute(
            "SELECT id, t, method, path, route, status, device_id, fault FROM requests "
            "WHERE id > ? ORDER BY id LIMIT ?",
            (since, limit),
        )
        return [dict(row) for row in rows]

    def insert_report(self, report: Report) -> None:
        """Store a slotStatus/deviceStatus body."""
        self._insert("reports", report)

    def latest_reports(self, device_id: str) -> list[Report]:
        """Return the newest report per (kind, slot) of a device."""
        return self._all(
            Report,
            "SELECT * FROM reports WHERE id IN (SELECT MAX(id) FROM reports WHERE device_id = ? "
            "GROUP BY kind, slot_id) ORDER BY kind, slot_id",
            device_id,
        )

    # -- faults ----------------------------------------------------------------
    def insert_fault(self, fault: Fault) -> int:
        """Arm a fault; return its id."""
        return self._insert("faults", fault)

    def take_fault(self, route: str) -> Fault | None:
        """Consume one use of the oldest armed fault matching ``route`` (or ``*``)."""
        fault = self._one(
            Fault,
            "SELECT * FROM faults WHERE remaining > 0 AND route IN (?, '*') "
            "ORDER BY fault_id LIMIT 1",
            route,
        )
        if fault is not None:
            self._conn.execute(
                "UPDATE faults SET remaining = remaining - 1 WHERE fault_id = ?", (fault.fault_id,)
            )
        return fault

    def faults(self) -> list[Fault]:
        """Return faults that still have uses left."""
        return self._all(Fault, "SELECT * FROM faults WHERE remaining > 0 ORDER BY fault_id")

    def clear_faults(self) -> int:
        """Disarm every fault; return how many were armed."""
        return self._conn.execute("DELETE FROM faults WHERE remaining > 0").rowcount


class Store:
    """The emulator database: one SQLite connection guarded by one lock."""

    def __init__(self, path: str | Path) -> None:
        """Open (creating if needed) the database at ``path``."""
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._conn.execute("PRAGMA busy_timeout = 5000")
        self._migrate()

    def _migrate(self) -> None:
        """Create the schema on a new database; refuse one from another version."""
        with self._lock:
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version == SCHEMA_VERSION:
                return
            if version not in (0, 1):
                raise RuntimeError(
                    f"{self.path}: emulator schema version {version}, expected {SCHEMA_VERSION}"
                )
            script = _SCHEMA_V2
            if version == 0:
                script = (
                    _SCHEMA
                    + f"INSERT INTO clock (id, now) VALUES (1, {round(time.time())});"
                    + _SCHEMA_V2
                )
            try:
                self._conn.executescript(
                    "BEGIN IMMEDIATE;"
                    + script
                    + f"PRAGMA user_version = {SCHEMA_VERSION};"
                    + "COMMIT;"
                )
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    @contextmanager
    def tx(self) -> Iterator[Tx]:
        """Run one transaction under the lock; commit on success, roll back on error."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()
