"""Selling Partner API: Orders v0 (every path of ``ordersV0.json``) and the Tokens API.

Every operation runs the same way (:func:`endpoint`):

1. ``x-amz-access-token`` must be a live access token from the seller application's LwA
   grant, or a restricted data token (:mod:`.rdt`); otherwise 403 ``Unauthorized``.
2. The operation's usage plan (:mod:`.ratelimit`, rate and burst from the model) takes
   one request; an empty bucket answers 429 ``QuotaExceeded``.
3. The handler validates its input (400 ``InvalidInput``), finds the order among the
   caller's seller's orders only (404 ``NotFound`` for unknown and foreign ids alike)
   and answers.

Errors are ``{"errors": [{"code", "message", "details"}]}``. Every answer carries
``x-amzn-RequestId``; 200/204/400/404 answers carry ``x-amzn-RateLimit-Limit``.
Buyer PII (buyer name and e-mail, street address) is only present when an RDT covers
the request; see :mod:`.rdt`.
"""

import dataclasses
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import buyer, clock, ids, inputs, lwa, orders, ratelimit, rdt
from .store import Customer, Order, Package, Seller, Tx

log = logging.getLogger(__name__)

MARKETPLACES = {
    "ATVPDKIKX0DER": "Amazon.com",
    "A2EUQ1WTGCTBG2": "Amazon.ca",
    "A1AM78C64UM0Y8": "Amazon.com.mx",
    "A2Q3Y263D00KWC": "Amazon.com.br",
    "A1F83G8C2ARO7P": "Amazon.co.uk",
    "A1PA6795UKMFR9": "Amazon.de",
    "A13V1IB3VIYZZH": "Amazon.fr",
    "APJ6JRA9NG5V4": "Amazon.it",
    "A1RKKUPIHCS9HS": "Amazon.es",
    "A1805IZSGTT6HS": "Amazon.nl",
    "A2NODRKZP88ZB9": "Amazon.se",
    "A1C3SOZRARQ6R3": "Amazon.pl",
    "A21TJRUUN4KGV": "Amazon.in",
    "A1VC38T7YXB528": "Amazon.co.jp",
    "A39IBJ37TRP1C6": "Amazon.com.au",
    "A19VAU5U5O7RUS": "Amazon.sg",
}
"""Known marketplace ids and their sales channel."""

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
SHIPMENT_STATUSES = ("ReadyForPickup", "PickedUp", "RefusedPickup")
LIST_PARAMS = (
    "OrderStatuses", "MarketplaceIds", "FulfillmentChannels", "PaymentMethods",
    "EasyShipShipmentStatuses", "ElectronicInvoiceStatuses", "AmazonOrderIds",
)  # fmt: skip
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
REJECTION_REASONS = (
    ("shield_pom_vps_reject_product", "This product is not suitable for the patient."),
    ("shield_pom_vps_reject_age", "The patient is too young for this product."),
    ("shield_pom_vps_reject_incorrect_weight", "The patient's weight does not match."),
)
ORDER_ID = re.compile(r"^\d{3}-\d{7}-\d{7}$")
JSON_TYPE = "application/json"


# -- errors and answers -------------------------------------------------------------------
class SpApiError(Exception):
    """An SP-API error answer: status and one or more ``{"code","message","details"}``."""

    def __init__(self, status: int, code: str, message: str, details: str = "") -> None:
        super().__init__(status, code, message)
        self.status = status
        self.errors: list[dict[str, str]] = [{"code": code, "message": message, "details": details}]

    @classmethod
    def many(cls, status: int, errors: list[tuple[str, str]]) -> "SpApiError":
        """Return one error answer listing several problems."""
        err = cls(status, errors[0][0], errors[0][1])
        err.errors = [{"code": c, "message": m, "details": ""} for c, m in errors]
        return err


def invalid(message: str) -> SpApiError:
    """Return a 400 ``InvalidInput``."""
    return SpApiError(400, "InvalidInput", message)


def _denied(message: str = "Access to requested resource is denied.") -> SpApiError:
    return SpApiError(403, "Unauthorized", message)


def _not_found(order_id: str) -> SpApiError:
    return SpApiError(404, "NotFound", "The requested order was not found.", f"orderId {order_id}")


def error_body(status: int, code: str, message: str) -> dict[str, Any]:
    """Return an SP-API error body (used by the app for 404/405/413 on SP-API paths)."""
    return {"errors": [{"code": code, "message": message, "details": ""}]}


_LIMIT_HEADER_STATUSES = (200, 204, 400, 404)


def _answer(
    status: int, body: dict[str, Any] | None, request_id: str, limit: str | None
) -> Response:
    headers = {"x-amzn-RequestId": request_id}
    if limit is not None and status in _LIMIT_HEADER_STATUSES:
        headers["x-amzn-RateLimit-Limit"] = limit
    if body is None:
        return Response(b"", status, headers)
    return JSONResponse(body, status, headers)


# -- callers --------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Caller:
    """Who is calling: the seller, the application and, with an RDT, what it covers."""

    seller: Seller
    client_id: str
    rdt_resources: list[dict[str, Any]] | None = None


def authenticate(tx: Tx, token: str | None, now: int) -> Caller:
    """Resolve ``x-amz-access-token`` to a caller or raise 403."""
    if not token or not token.strip():
        raise _denied()
    digest = ids.digest(token.strip())
    record = tx.token(digest)
    if record is not None:
        if record.kind == "access" and record.expires_at is not None and now >= record.expires_at:
            raise _denied("The access token you provided has expired.")
        if not lwa.is_live_seller_token(record, now):
            raise _denied()
        seller = tx.seller(str(record.seller_id))
        if seller is None:
            raise _denied()
        return Caller(seller, record.client_id)
    restricted = tx.rdt(digest)
    if restricted is None:
        raise _denied("The access token you provided is revoked, malformed or invalid.")
    if now >= restricted.expires_at:
        raise _denied("The access token you provided has expired.")
    seller = tx.seller(restricted.seller_id)
    if seller is None:
        raise _denied()
    return Caller(seller, restricted.client_id, inputs.load_json(restricted.resources))


# -- operations -------------------------------------------------------------------------------
@dataclasses.dataclass
class Ctx:
    """One SP-API call as a handler sees it (inside one transaction)."""

    request: Request
    body: bytes
    caller: Caller
    tx: Tx
    now: int
    elements: set[str]
    """Data elements an RDT unlocked (empty with the plain access token)."""

    @property
    def seller(self) -> Seller:
        """The caller's seller."""
        return self.caller.seller

    def order(self) -> Order:
        """Return the path's order if it is the seller's (400 malformed id, 404 otherwise)."""
        order_id = self.request.path_params["orderId"]
        if not ORDER_ID.match(order_id):
            raise invalid("Invalid orderId: expected an Amazon order id in 3-7-7 format.")
        order = self.tx.order_by_amazon_id(order_id)
        if order is None or order.seller_id != self.seller.seller_id:
            raise _not_found(order_id)
        return order

    def json_body(self, require_type: bool) -> dict[str, Any]:
        """Parse the request body as a JSON object (415 for another content type if asked)."""
        content_type = self.request.headers.get("content-type", "").split(";")[0].strip()
        if require_type and content_type.lower() != JSON_TYPE:
            raise SpApiError(415, "UnsupportedMediaType", "The request payload must be JSON.")
        try:
            body = inputs.load_json(self.body)
        except inputs.InputError as exc:
            raise invalid(f"The request body is not valid JSON: {exc}.") from None
        if not isinstance(body, dict):
            raise invalid("The request body must be a JSON object.")
        return body

    def customer(self, order: Order) -> Customer:
        """Return the order's customer (the buyer)."""
        customer = self.tx.customer(order.customer_id)
        assert customer is not None  # orders reference an existing customer
        return customer


Result = tuple[int, dict[str, Any] | None]


@dataclasses.dataclass(frozen=True)
class Operation:
    """One SP-API operation: route, usage plan and handler."""

    name: str
    method: str
    path: str
    plan: ratelimit.Plan
    handler: Callable[[Ctx], Result]

    @property
    def restricted(self) -> bool:
        """Whether an RDT may be used for this operation."""
        return rdt.is_restricted(self.method, self.path)


def _bucket_key(caller: Caller, operation: str) -> str:
    return f"spapi:{caller.seller.seller_id}:{caller.client_id}:{operation}"


def endpoint(op: Operation) -> Callable[[Request], Any]:
    """Return the Starlette endpoint running ``op`` (auth, rate limit, handler, errors)."""

    async def handle(request: Request) -> Response:
        request_id = ids.request_id()
        store = request.app.state.store
        body = await request.body()
        try:
            with store.tx() as tx:
                now = tx.now()
                caller = authenticate(tx, request.headers.get("x-amz-access-token"), now)
                outcome = ratelimit.take(tx, _bucket_key(caller, op.name), op.plan, now)
            if not outcome.allowed:
                raise SpApiError(
                    429, "QuotaExceeded", "You exceeded your quota for the requested resource."
                )
            elements: set[str] = set()
            if caller.rdt_resources is not None:
                unlocked = (
                    rdt.covered(caller.rdt_resources, op.method, request.url.path)
                    if op.restricted
                    else None
                )
                if unlocked is None:
                    raise _denied()
                elements = unlocked
            with store.tx() as tx:
                ctx = Ctx(request, body, caller, tx, tx.now(), elements)
                status, payload = op.handler(ctx)
        except SpApiError as err:
            return _answer(err.status, {"errors": err.errors}, request_id, op.plan.header)
        except Exception:
            log.exception("unexpected error in SP-API operation %s", op.name)
            body_500 = error_body(500, "InternalFailure", "We encountered an internal error.")
            return _answer(500, body_500, request_id, None)
        return _answer(status, payload, request_id, op.plan.header)

    handle.__name__ = op.name
    return handle


# -- order views ---------------------------------------------------------------------------------
def _iso(t: int | None) -> str | None:
    return None if t is None else clock.iso(t)


def order_view(ctx: Ctx, order: Order) -> dict[str, Any]:
    """Return the SP-API ``Order`` (PII per the RDT's data elements)."""
    shipped = orders.quantity_shipped(ctx.tx, order)
    open_units = order.quantity - shipped if order.status in (
        orders.UNSHIPPED, orders.PARTIALLY_SHIPPED) else 0  # fmt: skip
    view: dict[str, Any] = {
        "AmazonOrderId": order.amazon_order_id,
        "SellerOrderId": order.amazon_order_id,
        "PurchaseDate": clock.iso(order.created_at),
        "LastUpdateDate": clock.iso(order.updated_at),
        "OrderStatus": order.status,
        "FulfillmentChannel": order.fulfillment_channel,
        "SalesChannel": MARKETPLACES.get(order.marketplace_id, "Amazon.com"),
        "OrderChannel": "DashReplenishmentTest" if order.is_test else "DashReplenishment",
        "ShipServiceLevel": order.ship_service_level,
        "NumberOfItemsShipped": shipped,
        "NumberOfItemsUnshipped": open_units,
        "PaymentMethod": "Other",
        "PaymentMethodDetails": ["Standard"],
        "MarketplaceId": order.marketplace_id,
        "ShipmentServiceLevelCategory": "Standard",
        "OrderType": "StandardOrder",
        "EarliestShipDate": clock.iso(order.created_at),
        "LatestShipDate": clock.iso(order.expected_delivery),
        "IsBusinessOrder": False,
        "IsPrime": False,
        "IsPremiumOrder": False,
        "IsGlobalExpressEnabled": False,
        "IsReplacementOrder": False,
        "IsSoldByAB": False,
        "IsISPU": False,
        "IsAccessPointOrder": False,
        "HasRegulatedItems": order.has_regulated_items,
        "AutomatedShippingSettings": {"HasAutomatedShippingSettings": False},
        "BuyerInfo": {},
    }
    if order.status != orders.PENDING:
        view["OrderTotal"] = {"CurrencyCode": order.currency, "Amount": orders.line_total(order)}
    if orders.buyer_visible(order):
        view["EarliestDeliveryDate"] = clock.iso(order.expected_delivery)
        view["LatestDeliveryDate"] = clock.iso(order.expected_delivery + 86399)
        profile = buyer.for_customer(ctx.customer(order))
        view["ShippingAddress"] = profile.address("shippingAddress" in ctx.elements)
        if "buyerInfo" in ctx.elements:
            view["BuyerInfo"] = profile.info()
    return view


def _item_view(ctx: Ctx, order: Order) -> dict[str, Any]:
    """Return the SP-API ``OrderItem`` of a DRS order's single line."""
    cancel_requested = order.cancel_reason == "BuyerCanceled"
    item: dict[str, Any] = {
        "ASIN": order.asin,
        "SellerSKU": order.seller_sku,
        "OrderItemId": order.order_item_id,
        "Title": order.title,
        "QuantityOrdered": order.quantity,
        "QuantityShipped": orders.quantity_shipped(ctx.tx, order),
        "ProductInfo": {"NumberOfItems": "1"},
        "IsGift": "false",
        "ConditionId": "New",
        "ConditionSubtypeId": "New",
        "IsTransparency": False,
        "SerialNumberRequired": False,
        "BuyerRequestedCancel": {
            "IsBuyerRequestedCancel": "true" if cancel_requested else "false",
            "BuyerCancelReason": "Customer canceled" if cancel_requested else "",
        },
    }
    if order.status != orders.PENDING:  # no pricing while Pending (see the model)
        zero = {"CurrencyCode": order.currency, "Amount": "0.00"}
        item.update(
            ItemPrice={"CurrencyCode": order.currency, "Amount": orders.line_total(order)},
            ItemTax=zero,
            ShippingPrice=zero,
            PromotionDiscount=zero,
            PromotionDiscountTax=zero,
        )
    if "buyerInfo" in ctx.elements:
        item["BuyerInfo"] = {}
    return item


# -- query parameters ------------------------------------------------------------------------------
def _single_params(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    """Return the known query parameters; one given more than once is an error."""
    params: dict[str, str] = {}
    for name in names:
        values = request.query_params.getlist(name)
        if len(values) > 1:
            raise invalid(f"Parameter {name} was given more than once.")
        if values:
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


def _matches(ctx: Ctx, f: _Filter, order: Order) -> bool:
    """Whether a (seller's) order meets every criterion."""
    if f.impossible or order.marketplace_id not in f.marketplaces:
        return False
    if f.created and not f.created[0] <= order.created_at <= f.created[1]:
        return False
    if f.updated and not f.updated[0] <= order.updated_at <= f.updated[1]:
        return False
    if f.statuses and order.status not in f.statuses:
        return False
    if f.channels and order.fulfillment_channel not in f.channels:
        return False
    if f.payments and "Other" not in f.payments:
        return False
    if f.seller_order_id is not None and f.seller_order_id != order.amazon_order_id:
        return False
    if f.order_ids and order.amazon_order_id not in f.order_ids:
        return False
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


def _next_page(ctx: Ctx, operation: str, remaining: list[int], state: dict[str, Any]) -> str:
    """Store the rest of a result list behind a new NextToken; return the token."""
    token = ids.page_token()
    state = {**state, "ids": remaining}
    ctx.tx.insert_page_token(
        ids.digest(token), ctx.seller.seller_id, operation, json.dumps(state), ctx.now
    )
    return token


def _load_page(ctx: Ctx, operation: str, token: str) -> dict[str, Any]:
    state = ctx.tx.page_token(ids.digest(token), ctx.seller.seller_id, operation)
    if state is None:
        raise invalid("Invalid NextToken.")
    loaded: dict[str, Any] = inputs.load_json(state)
    return loaded


# -- handlers -------------------------------------------------------------------------------------
def get_orders(ctx: Ctx) -> Result:
    """Serve getOrders: filter the seller's orders; page with NextToken (a snapshot of the ids)."""
    params = _single_params(ctx.request, GET_ORDERS_PARAMS)
    if "NextToken" in params:
        state = _load_page(ctx, "getOrders", params["NextToken"])
        size = _page_size(params, int(state["size"]))
        ids_left: list[int] = state["ids"]
    else:
        f = _orders_filter(params, ctx.now)
        size = _page_size(params, DEFAULT_PAGE)
        by_update = f.updated is not None
        found = [o for o in ctx.tx.seller_orders(ctx.seller.seller_id) if _matches(ctx, f, o)]
        if by_update:
            found.sort(key=lambda o: (o.updated_at, o.order_id or 0))
        ids_left = [int(o.order_id or 0) for o in found]
        state = {"size": size}
        if f.created is not None:
            state["CreatedBefore"] = clock.iso(f.created[1])
        if f.updated is not None:
            state["LastUpdatedBefore"] = clock.iso(f.updated[1])
    page, rest = ids_left[:size], ids_left[size:]
    payload: dict[str, Any] = {
        "Orders": [order_view(ctx, o) for o in ctx.tx.orders_by_ids(page)],
    }
    if rest:
        payload["NextToken"] = _next_page(ctx, "getOrders", rest, state)
    for name in ("CreatedBefore", "LastUpdatedBefore"):
        if name in state:
            payload[name] = state[name]
    return 200, {"payload": payload}


def get_order(ctx: Ctx) -> Result:
    """Serve getOrder."""
    return 200, {"payload": order_view(ctx, ctx.order())}


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
    token = _single_params(ctx.request, ("NextToken",)).get("NextToken")
    items = [view(order)]  # a DRS order has exactly one line
    start = 0
    key = f"{operation}:{order.amazon_order_id}"
    if token is not None:
        start = int(_load_page(ctx, key, token)["start"])
    end = start + ITEMS_PAGE_SIZE
    payload: dict[str, Any] = {
        "OrderItems": items[start:end],
        "AmazonOrderId": order.amazon_order_id,
    }
    if end < len(items):
        payload["NextToken"] = _next_page(ctx, key, [], {"start": end})
    return 200, {"payload": payload}


def get_order_items(ctx: Ctx) -> Result:
    """Serve getOrderItems (with NextToken)."""
    return _items_page(ctx, "getOrderItems", lambda order: _item_view(ctx, order))


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
        resources = rdt.parse_resources(ctx.json_body(require_type=False))
    except rdt.RdtInputError as err:
        raise invalid(str(err)) from None
    token = rdt.issue(ctx.tx, ctx.seller, ctx.caller.client_id, resources, ctx.now)
    return 200, {"restrictedDataToken": token, "expiresIn": rdt.RDT_TTL}


def _plan(rate: float, burst: int) -> ratelimit.Plan:
    return ratelimit.Plan(rate, burst)


ORDERS = "/orders/v0/orders"
OPERATIONS = (
    Operation("getOrders", "GET", ORDERS, _plan(0.0167, 20), get_orders),
    Operation("getOrder", "GET", ORDERS + "/{orderId}", _plan(0.5, 30), get_order),
    Operation("getOrderBuyerInfo", "GET", ORDERS + "/{orderId}/buyerInfo", _plan(0.5, 30),
              get_order_buyer_info),
    Operation("getOrderAddress", "GET", ORDERS + "/{orderId}/address", _plan(0.5, 30),
              get_order_address),
    Operation("getOrderItems", "GET", ORDERS + "/{orderId}/orderItems", _plan(0.5, 30),
              get_order_items),
    Operation("getOrderItemsBuyerInfo", "GET", ORDERS + "/{orderId}/orderItems/buyerInfo",
              _plan(0.5, 30), get_order_items_buyer_info),
    Operation("updateShipmentStatus", "POST", ORDERS + "/{orderId}/shipment", _plan(5, 15),
              update_shipment_status),
    Operation("getOrderRegulatedInfo", "GET", ORDERS + "/{orderId}/regulatedInfo",
              _plan(0.5, 30), get_order_regulated_info),
    Operation("updateVerificationStatus", "PATCH", ORDERS + "/{orderId}/regulatedInfo",
              _plan(0.5, 30), update_verification_status),
    Operation("confirmShipment", "POST", ORDERS + "/{orderId}/shipmentConfirmation",
              _plan(2, 10), confirm_shipment),
    Operation("createRestrictedDataToken", "POST", "/tokens/2021-03-01/restrictedDataToken",
              _plan(1, 10), create_restricted_data_token),
)  # fmt: skip
"""Every SP-API operation the emulator serves (usage plans from the models)."""

ROUTES = [Route(op.path, endpoint(op), methods=[op.method]) for op in OPERATIONS]
PREFIXES = ("/orders/", "/tokens/")
"""Paths answered with SP-API error bodies (404, 405, 413)."""
