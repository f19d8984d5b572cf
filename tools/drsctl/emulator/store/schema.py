"""The emulator database's schema: version 1 and the changes of versions 2 to 5.

A new database gets every script; an older one the scripts after its version (see
:meth:`.Store._migrate`).
"""

SCHEMA_VERSION = 5

SCHEMA = """
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
SCHEMA_V2 = """
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

# Version 3: indexes that keep each request's queries, a clock move and the retention
# purge independent of how many orders, requests and reports are stored.
SCHEMA_V3 = """
CREATE INDEX orders_open_slot ON orders(device_id, slot_id)
    WHERE delivered_at IS NULL AND canceled_at IS NULL;
CREATE INDEX orders_authorize_due ON orders(authorize_due_at)
    WHERE status = 'Pending' AND canceled_at IS NULL;
CREATE INDEX orders_delivery_due ON orders(expected_delivery)
    WHERE delivered_at IS NULL AND canceled_at IS NULL;
CREATE INDEX orders_updated ON orders(updated_at);
CREATE INDEX requests_t ON requests(t);
CREATE INDEX reports_device ON reports(device_id, kind, slot_id);
CREATE INDEX reports_received ON reports(received_at);
CREATE INDEX tokens_access_expiry ON tokens(expires_at) WHERE kind = 'access';
CREATE INDEX page_tokens_created ON page_tokens(created_at);
"""


def _drop_order_json(table: str, event: str, rows: tuple[str, ...]) -> str:
    """A trigger deleting every stored variant of the order of each row in ``rows``."""
    deletes = " ".join(
        f"DELETE FROM order_json WHERE key BETWEEN {row}.order_id * 4 AND {row}.order_id * 4 + 3;"
        for row in rows
    )
    name = f"order_json_{table}_{event.lower()}"
    return f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN {deletes} END;"


# Version 4: each order's SP-API ``Order`` JSON, encoded once per variant (the data
# elements an RDT unlocked, see :func:`..spapi.views.variant`), under the key
# ``order_id * 4 + variant`` (one rowid lookup, the body kept in the row's page). The
# triggers drop an order's entries in the transaction that changes anything rendered
# from it (the order, its packages, its customer), whatever writes it. The index covers a
# getOrders page of one marketplace (in page order, no row of orders read).
SCHEMA_V4 = "\n".join(
    [
        "CREATE INDEX orders_seller_market ON orders(seller_id, marketplace_id, created_at);",
        "CREATE TABLE order_json (key INTEGER PRIMARY KEY, body BLOB NOT NULL);",
        _drop_order_json("orders", "UPDATE", ("OLD", "NEW")),
        _drop_order_json("orders", "DELETE", ("OLD",)),
        _drop_order_json("packages", "INSERT", ("NEW",)),
        _drop_order_json("packages", "UPDATE", ("OLD", "NEW")),
        _drop_order_json("packages", "DELETE", ("OLD",)),
        "CREATE TRIGGER order_json_customers_update AFTER UPDATE ON customers BEGIN "
        "DELETE FROM order_json WHERE key / 4 IN (SELECT order_id FROM orders "
        "WHERE customer_id IN (OLD.customer_id, NEW.customer_id)); END;",
    ]
)

# Version 5: the request log and the reports are purged by row id (see
# :meth:`.RetentionTx.purge_before`), so their time indexes go: each device request
# writes one page fewer (two for a report), which is two writes fewer to the WAL.
SCHEMA_V5 = """
DROP INDEX requests_t;
DROP INDEX reports_received;
"""
