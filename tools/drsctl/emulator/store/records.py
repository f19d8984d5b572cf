"""The stored records (one frozen dataclass per table row) and the settings' limits."""

import dataclasses
import functools
import sqlite3
from typing import Any, TypeVar

from .. import inputs


@dataclasses.dataclass(frozen=True)
class Settings:
    """Knobs of the order lifecycle and of retention (see the control API)."""

    authorize_after_s: int = 600
    delivery_days: float = 2.0
    cancel_window_s: int = 86400
    retention_days: int = 30
    """Request log entries, reports (but each device's latest of a kind), expired access
    tokens and NextTokens older than this many virtual days are purged; 0 keeps all."""


MAX_WINDOW_DAYS = 3650
"""Upper bound of every settings window (about ten years)."""

SETTING_LIMITS: dict[str, tuple[type, int]] = {
    "authorize_after_s": (int, MAX_WINDOW_DAYS * 86400),
    "delivery_days": (float, MAX_WINDOW_DAYS),
    "cancel_window_s": (int, MAX_WINDOW_DAYS * 86400),
    "retention_days": (int, MAX_WINDOW_DAYS),
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
class OrderItem:
    """What DRS getOrderInfo shows of an order: a few columns of its row."""

    event_instance_id: str
    device_id: str
    slot_id: str
    asin: str
    quantity: int
    expected_delivery: int
    status: str
    delivered_at: int | None
    canceled_at: int | None


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


@functools.cache
def _columns(cls: type) -> tuple[tuple[str, bool], ...]:
    """A record class's fields as (name, declared bool), worked out once per class."""
    return tuple((field.name, field.type is bool) for field in dataclasses.fields(cls))


@functools.cache
def _names(cls: type) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A record class's field names, and those of its bool fields."""
    columns = _columns(cls)
    return tuple(name for name, _ in columns), tuple(name for name, is_bool in columns if is_bool)


@functools.cache
def _positions(cls: type, columns: tuple[str, ...]) -> tuple[int, ...] | None:
    """Where each field of ``cls`` is among a row's ``columns``; None if in field order."""
    names = _names(cls)[0]
    return None if columns == names else tuple(columns.index(name) for name in names)


def from_row(cls: type[_T], row: sqlite3.Row) -> _T:
    """Build dataclass ``cls`` from a row, turning SQLite 0/1 into bool where declared."""
    positions = _positions(cls, tuple(row.keys()))
    return from_values(cls, row if positions is None else [row[i] for i in positions])


def from_rows(cls: type[_T], cursor: sqlite3.Cursor) -> list[_T]:
    """Build dataclass ``cls`` from each row of ``cursor`` (columns matched to fields once)."""
    positions = _positions(cls, tuple(column[0] for column in cursor.description))
    if positions is None:
        return [from_values(cls, row) for row in cursor]
    return [from_values(cls, [row[i] for i in positions]) for row in cursor]


@functools.cache
def column_list(cls: type, alias: str) -> str:
    """``alias.field, …`` for every field of ``cls``, in field order (for :func:`from_values`)."""
    return ", ".join(f"{alias}.{name}" for name, _ in _columns(cls))


def from_values(cls: type[_T], values: Any) -> _T:
    """Build dataclass ``cls`` from values in field order (a :func:`column_list` row).

    The fields are set directly, as the record's generated ``__init__`` would (records
    have no ``__post_init__``), without a frozen class's ``object.__setattr__`` per field.
    """
    names, bools = _names(cls)
    fields = dict(zip(names, values, strict=True))
    for name in bools:
        fields[name] = bool(fields[name])
    record = object.__new__(cls)
    record.__dict__.update(fields)
    return record


def as_values(record: Any) -> dict[str, Any]:
    """A record's fields by name (``dataclasses.asdict`` without its deep copy)."""
    return {name: getattr(record, name) for name, _ in _columns(type(record))}
