"""getOrders: query parameters, the documented filter rules and NextToken paging."""

import dataclasses
import json
from typing import Any

from starlette.requests import Request

from .. import buyer, clock, ids, inputs, orders
from ..marketplaces import MARKETPLACES, ORDER_ID
from ..order_view import OrderView
from ..store import Order
from .dispatch import Ctx, Result, invalid
from .views import order_json, variant

ORDER_STATUSES = (
    "PendingAvailability", "Pending", "Unshipped", "PartiallyShipped", "Shipped",
    "InvoiceUnconfirmed", "Canceled", "Unfulfillable",
)  # fmt: skip
EASY_SHIP_STATUSES = (
    "PendingSchedule", "PendingPickUp", "PendingDropOff", "LabelCanceled", "PickedUp",
    "DroppedOff", "AtOriginFC", "AtDestinationFC", "Delivered", "RejectedByBuyer",
    "Undeliverable", "ReturningToSeller", "ReturnedToSeller", "Lost", "OutForDelivery",
    "Damaged",
)  # fmt: skip
INVOICE_STATUSES = ("NotRequired", "NotFound", "Processing", "Errored", "Accepted")
GET_ORDERS_PARAMS = (
    "CreatedAfter", "CreatedBefore", "LastUpdatedAfter", "LastUpdatedBefore", "OrderStatuses",
    "MarketplaceIds", "FulfillmentChannels", "PaymentMethods", "BuyerEmail", "SellerOrderId",
    "MaxResultsPerPage", "EasyShipShipmentStatuses", "ElectronicInvoiceStatuses", "NextToken",
    "AmazonOrderIds", "ActualFulfillmentSupplySourceId", "IsISPU", "StoreChainStoreId",
    "EarliestDeliveryDateBefore", "EarliestDeliveryDateAfter", "LatestDeliveryDateBefore",
    "LatestDeliveryDateAfter",
)  # fmt: skip
MAX_LIST = 50
DEFAULT_PAGE = 100
ITEMS_PAGE_SIZE = 100
"""Order items per getOrderItems page (a DRS order has one item)."""
DATA_DELAY_S = 120
"""``CreatedBefore``/``LastUpdatedBefore`` must be at least this long before now."""


def single_params(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    """Return the known query parameters; one given more than once is an error.

    The query is walked once (``names`` has about twenty entries); the first of
    ``names`` given twice is the one reported.
    """
    given: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        given.setdefault(name, []).append(value)
    params: dict[str, str] = {}
    for name in names:
        values = given.get(name)
        if values is None:
            continue
        if len(values) > 1:
            raise invalid(f"Parameter {name} was given more than once.")
        params[name] = values[0]
    return params


def _list(params: dict[str, str], name: str, allowed: tuple[str, ...] | None = None) -> list[str]:
    """Split a comma-separated list parameter; check its size and values."""
    raw = params.get(name)
    if raw is None:
        return []
    values = [v.strip() for v in raw.split(",")]
    if any(not v for v in values):
        raise invalid(f"{name} contains an empty value.")
    if len(values) > MAX_LIST:
        raise invalid(f"{name} accepts at most {MAX_LIST} values.")
    if allowed is not None:
        bad = sorted(set(values) - set(allowed))
        if bad:
            raise invalid(f"Invalid {name} value(s): {', '.join(bad)[:200]}.")
    return values


def _date(params: dict[str, str], name: str) -> int | None:
    """Parse an ISO 8601 date(-time) parameter to Unix seconds."""
    raw = params.get(name)
    if raw is None:
        return None
    try:
        return clock.parse_iso(raw.strip())
    except (ValueError, OverflowError, OSError):
        raise invalid(f"Invalid {name}: the date must be in ISO 8601 format.") from None


def _page_size(params: dict[str, str], default: int) -> int:
    raw = params.get("MaxResultsPerPage")
    if raw is None:
        return default
    size = inputs.ascii_uint(raw, 100)
    if size is None or size < 1:
        raise invalid("MaxResultsPerPage must be an integer between 1 and 100.")
    return size


@dataclasses.dataclass(frozen=True)
class _Filter:
    """getOrders criteria, validated."""

    marketplaces: list[str]
    created: tuple[int, int] | None
    updated: tuple[int, int] | None
    statuses: list[str]
    channels: list[str]
    payments: list[str]
    buyer_email: str | None
    seller_order_id: str | None
    order_ids: list[str]
    impossible: bool
    """A criterion no DRS order can meet (Easy Ship, ISPU, store, invoices, …)."""
    delivery: dict[str, int]


def _window(
    params: dict[str, str], after_name: str, before_name: str, now: int
) -> tuple[int, int] | None:
    after = _date(params, after_name)
    before = _date(params, before_name)
    if after is None:
        return None
    if before is None:
        return after, now
    if before < after:
        raise invalid(f"{before_name} must be equal to or after {after_name}.")
    if before > now - DATA_DELAY_S:
        raise invalid(f"{before_name} must be at least two minutes before the current time.")
    return after, before


def _orders_filter(params: dict[str, str], now: int) -> _Filter:
    """Apply the documented getOrders parameter rules."""
    marketplaces = _list(params, "MarketplaceIds")
    if not marketplaces:
        raise invalid("Missing required parameter: MarketplaceIds.")
    unknown = [m for m in marketplaces if m not in MARKETPLACES]
    if unknown:
        raise invalid(f"Invalid MarketplaceIds value(s): {', '.join(unknown)[:200]}.")
    has_created = "CreatedAfter" in params or "CreatedBefore" in params
    has_updated = "LastUpdatedAfter" in params or "LastUpdatedBefore" in params
    if has_created and has_updated:
        raise invalid(
            "CreatedAfter and CreatedBefore cannot be combined with LastUpdatedAfter "
            "or LastUpdatedBefore."
        )
    if "CreatedAfter" not in params and "LastUpdatedAfter" not in params:
        raise invalid("Either CreatedAfter or LastUpdatedAfter must be specified.")
    if "SellerOrderId" in params:
        excluded = [
            name
            for name in ("FulfillmentChannels", "OrderStatuses", "PaymentMethods",
                         "LastUpdatedAfter", "LastUpdatedBefore", "BuyerEmail")
            if name in params
        ]  # fmt: skip
        if excluded:
            raise invalid(f"SellerOrderId cannot be combined with {', '.join(excluded)}.")
    order_ids = _list(params, "AmazonOrderIds")
    if any(not ORDER_ID.match(o) for o in order_ids):
        raise invalid("AmazonOrderIds must be Amazon order ids in 3-7-7 format.")
    is_ispu = params.get("IsISPU")
    if is_ispu is not None and is_ispu.lower() not in ("true", "false"):
        raise invalid("IsISPU must be true or false.")
    easy_ship = _list(params, "EasyShipShipmentStatuses", EASY_SHIP_STATUSES)
    invoices = _list(params, "ElectronicInvoiceStatuses", INVOICE_STATUSES)
    delivery = {
        name: value
        for name in ("EarliestDeliveryDateBefore", "EarliestDeliveryDateAfter",
                     "LatestDeliveryDateBefore", "LatestDeliveryDateAfter")
        if (value := _date(params, name)) is not None
    }  # fmt: skip
    return _Filter(
        marketplaces=marketplaces,
        created=_window(params, "CreatedAfter", "CreatedBefore", now),
        updated=_window(params, "LastUpdatedAfter", "LastUpdatedBefore", now),
        statuses=_list(params, "OrderStatuses", ORDER_STATUSES),
        channels=_list(params, "FulfillmentChannels", ("AFN", "MFN")),
        payments=_list(params, "PaymentMethods", ("COD", "CVS", "Other")),
        buyer_email=params.get("BuyerEmail"),
        seller_order_id=params.get("SellerOrderId"),
        order_ids=order_ids,
        impossible=bool(
            easy_ship
            or invoices
            or (is_ispu or "").lower() == "true"
            or "StoreChainStoreId" in params
            or "ActualFulfillmentSupplySourceId" in params
        ),  # fmt: skip
        delivery=delivery,
    )


def _query(ctx: Ctx, f: _Filter) -> tuple[list[str], list[Any]] | None:
    """SQL terms and arguments for the criteria on columns; None if no order can match."""
    if f.impossible or (f.payments and "Other" not in f.payments):
        return None  # DRS orders are paid with "Other" and meet none of the impossible ones
    where = ["seller_id = ?", f"marketplace_id IN ({_marks(f.marketplaces)})"]
    args: list[Any] = [ctx.seller.seller_id, *f.marketplaces]
    for column, window in (("created_at", f.created), ("updated_at", f.updated)):
        if window is not None:
            where.append(f"{column} BETWEEN ? AND ?")
            args += window
    for column, values in (("status", f.statuses), ("fulfillment_channel", f.channels),
                           ("amazon_order_id", f.order_ids)):  # fmt: skip
        if values:
            where.append(f"{column} IN ({_marks(values)})")
            args += values
    if f.seller_order_id is not None:
        where.append("amazon_order_id = ?")
        args.append(f.seller_order_id)
    return where, args


def _fixed(f: _Filter) -> bool:
    """Whether the criteria only look at what never changes after an order is placed.

    Then the orders matching at the first call are those up to the newest order id at
    that time, and a NextToken needs only where the last page ended (keyset paging);
    otherwise it keeps the matching ids (statuses and update times change).
    """
    return not (f.updated or f.statuses or f.buyer_email is not None or f.delivery)


def _matching_ids(ctx: Ctx, f: _Filter, where: list[str], args: list[Any]) -> list[int]:
    """The row ids of the seller's orders meeting every criterion, in result order.

    One indexed query does the columns; only a buyer e-mail or delivery-date criterion
    (derived values) loads the candidates and checks them in :func:`_matches_derived`.
    """
    order_by = "updated_at, order_id" if f.updated is not None else "created_at, order_id"
    if f.buyer_email is None and not f.delivery:
        return ctx.tx.order_ids_where(" AND ".join(where), args, order_by)
    candidates = ctx.tx.orders_where(" AND ".join(where), args, order_by)
    return [int(o.order_id or 0) for o in candidates if _matches_derived(ctx, f, o)]


_Row = tuple[int, int, bytes | None]
"""An order of a page: row id, creation time, encoded rendering if stored."""


def _keyset_page(ctx: Ctx, state: dict[str, Any], size: int) -> tuple[list[_Row], bool]:
    """The page after ``state["after"]`` of a fixed-criteria listing; whether more follow."""
    where, args = list(state["where"]), list(state["args"])
    after = state.get("after")
    if after is not None:
        where.append("(created_at > ? OR (created_at = ? AND order_id > ?))")
        args += [after[0], after[0], after[1]]
    found = ctx.tx.order_json_where(
        " AND ".join(where), args, "created_at, order_id", variant(ctx), size + 1
    )
    return found[:size], len(found) > size


def _ids_page(ctx: Ctx, order_ids: list[int]) -> list[_Row]:
    """The orders with these row ids, in the order given (missing ids are skipped)."""
    if not order_ids:
        return []
    found = {
        row[0]: row
        for row in ctx.tx.order_json_where(
            f"order_id IN ({_marks(order_ids)})", order_ids, "order_id", variant(ctx)
        )
    }
    return [found[i] for i in order_ids if i in found]


def _encoded(ctx: Ctx, page: list[_Row]) -> list[bytes]:
    """The page's orders encoded; those not stored yet are rendered and stored."""
    missing = [row[0] for row in page if row[2] is None]
    rendered: dict[int, bytes] = {}
    if missing:
        views = OrderView.many(ctx.tx, ctx.tx.orders_by_ids(missing))
        rendered = {int(v.order.order_id or 0): inputs.dump_json(order_json(ctx, v)) for v in views}
        ctx.tx.store_order_json(variant(ctx), rendered)
    return [row[2] if row[2] is not None else rendered[row[0]] for row in page]


def _page_json(orders: list[bytes], rest: dict[str, Any]) -> bytes:
    """``{"payload": {"Orders": [...], **rest}}`` as :func:`.inputs.dump_json` writes it.

    The page (~100 KB) is copied once: the small head and tail join the first and last
    orders before everything is joined.
    """
    head = b'{"payload":{"Orders":['
    dump = inputs.dump_json
    tail = b"]" + b"".join(b"," + dump(k) + b":" + dump(v) for k, v in rest.items()) + b"}}"
    if not orders:
        return head + tail
    parts = orders.copy()
    parts[0] = head + parts[0]
    parts[-1] += tail
    return b",".join(parts)


def _marks(values: list[str]) -> str:
    return ", ".join("?" for _ in values)


def _matches_derived(ctx: Ctx, f: _Filter, order: Order) -> bool:
    """Whether an order meets the criteria on derived values (buyer e-mail, delivery dates)."""
    if f.buyer_email is not None:
        email = buyer.for_customer(ctx.customer(order)).email
        if f.buyer_email.strip().lower() != email:
            return False
    if f.delivery:
        if not orders.buyer_visible(order):
            return False
        earliest, latest = order.expected_delivery, order.expected_delivery + 86399
        bounds = {
            "EarliestDeliveryDateAfter": earliest >= f.delivery.get("EarliestDeliveryDateAfter",
                                                                    earliest),
            "EarliestDeliveryDateBefore": earliest <= f.delivery.get("EarliestDeliveryDateBefore",
                                                                     earliest),
            "LatestDeliveryDateAfter": latest >= f.delivery.get("LatestDeliveryDateAfter", latest),
            "LatestDeliveryDateBefore": latest <= f.delivery.get("LatestDeliveryDateBefore",
                                                                 latest),
        }  # fmt: skip
        if not all(bounds.values()):
            return False
    return True


def next_page(ctx: Ctx, operation: str, state: dict[str, Any]) -> str:
    """Store what the next page needs behind a new NextToken; return the token."""
    token = ids.page_token()
    ctx.tx.insert_page_token(
        ids.digest(token), ctx.seller.seller_id, operation, json.dumps(state), ctx.now
    )
    return token


def load_page(ctx: Ctx, operation: str, token: str) -> dict[str, Any]:
    """Return the state behind a seller's NextToken (400 for an unknown one)."""
    state = ctx.tx.page_token(ids.digest(token), ctx.seller.seller_id, operation)
    if state is None:
        raise invalid("Invalid NextToken.")
    loaded: dict[str, Any] = inputs.load_json(state)
    return loaded


def get_orders(ctx: Ctx) -> Result:
    """Serve getOrders: the seller's orders meeting the criteria, paged with NextToken.

    A NextToken stands for the orders that matched at the first call (see :func:`_fixed`).
    """
    params = single_params(ctx.request, GET_ORDERS_PARAMS)
    if "NextToken" in params:
        state = load_page(ctx, "getOrders", params["NextToken"])
        size = _page_size(params, int(state["size"]))
    else:
        f = _orders_filter(params, ctx.now)
        size = _page_size(params, DEFAULT_PAGE)
        query = _query(ctx, f)
        state = {"size": size}
        if query is None:
            state["ids"] = []
        elif _fixed(f):
            where, args = query
            state.update(where=[*where, "order_id <= ?"], args=[*args, ctx.tx.last_order_id()])
        else:
            state["ids"] = _matching_ids(ctx, f, *query)
        if f.created is not None:
            state["CreatedBefore"] = clock.iso(f.created[1])
        if f.updated is not None:
            state["LastUpdatedBefore"] = clock.iso(f.updated[1])
    if "ids" in state:
        page_ids, rest = state["ids"][:size], state["ids"][size:]
        page, more = _ids_page(ctx, page_ids), bool(rest)
        following = {**state, "ids": rest}
    else:
        page, more = _keyset_page(ctx, state, size)
        following = {**state, "after": [page[-1][1], page[-1][0]] if page else None}
    others: dict[str, Any] = {}
    if more:
        others["NextToken"] = next_page(ctx, "getOrders", following)
    for name in ("CreatedBefore", "LastUpdatedBefore"):
        if name in state:
            others[name] = state[name]
    return 200, _page_json(_encoded(ctx, page), others)
