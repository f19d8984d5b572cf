"""SP-API dispatch: who is calling, the call's context and the one way every operation runs.

An operation (:class:`Operation`) runs through :func:`endpoint`:

1. ``x-amz-access-token`` must be a live access token from the seller application's LwA
   grant, or a restricted data token (:mod:`..rdt`); otherwise 403 ``Unauthorized`` with
   "Access to requested resource is denied." and the reason in ``details``;
2. the operation's usage plan (:mod:`..ratelimit`) takes one request (429 ``QuotaExceeded``);
3. an RDT must cover the request: its coverage is the operation's ``rdt_elements`` field;
4. the handler runs on a :class:`Ctx`.

All in one transaction, the handler in a savepoint of it: a refusal (429, 403) or a
handler's error undoes the handler's writes only, the request stays counted.

Errors are :class:`..errors.SpApiError`, answered by the request pipeline; 200/204/400/404
answers carry ``x-amzn-RateLimit-Limit``.
"""

import dataclasses
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import ids, inputs, lwa, ratelimit, rdt
from ..errors import SpApiError
from ..marketplaces import ORDER_ID
from ..store import Customer, Order, Seller, Tx


class _PayloadJSON(JSONResponse):
    """Starlette's JSON response, encoded by :func:`.inputs.dump_json`."""

    def render(self, content: Any) -> bytes:
        """Encode ``content`` as compact UTF-8 JSON."""
        return inputs.dump_json(content)


JSON_TYPE = "application/json"
DENIED = "Access to requested resource is denied."
_LIMIT_HEADER_STATUSES = (200, 204, 400, 404)


def invalid(message: str) -> SpApiError:
    """Return a 400 ``InvalidInput``."""
    return SpApiError(400, "InvalidInput", message)


def _denied(reason: str = "") -> SpApiError:
    """Return Amazon's 403: the fixed message, the reason in ``details``."""
    return SpApiError(403, "Unauthorized", DENIED, reason)


def _not_found(order_id: str) -> SpApiError:
    return SpApiError(404, "NotFound", "The requested order was not found.", f"orderId {order_id}")


@dataclasses.dataclass(frozen=True)
class Caller:
    """Who is calling: the seller, the application and, with an RDT, what it covers."""

    seller: Seller
    client_id: str
    rdt_resources: list[dict[str, Any]] | None = None


def authenticate(tx: Tx, token: str | None, now: int) -> Caller:
    """Resolve ``x-amz-access-token`` to a caller or raise 403."""
    if not token or not token.strip():
        raise _denied("The access token is missing.")
    digest = ids.digest(token.strip())
    record = tx.token(digest)
    if record is not None:
        if record.kind == "access" and record.expires_at is not None and now >= record.expires_at:
            raise _denied("The access token you provided has expired.")
        if not lwa.is_live_seller_token(record, now):
            raise _denied("The access token is not a seller's access token.")
        seller = tx.seller(str(record.seller_id))
        if seller is None:
            raise _denied("The access token's seller does not exist.")
        return Caller(seller, record.client_id)
    restricted = tx.rdt(digest)
    if restricted is None:
        raise _denied("The access token you provided is revoked, malformed or invalid.")
    if now >= restricted.expires_at:
        raise _denied("The access token you provided has expired.")
    seller = tx.seller(restricted.seller_id)
    if seller is None:
        raise _denied("The restricted data token's seller does not exist.")
    return Caller(seller, restricted.client_id, inputs.load_json(restricted.resources))


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
    restricted: tuple[rdt.RestrictedOperation, ...] = ()
    """Every restricted operation (what an RDT may be asked for)."""

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


Result = tuple[int, dict[str, Any] | bytes | None]
"""Status and body: a JSON tree, the body already encoded by :func:`.inputs.dump_json`, or
none."""


@dataclasses.dataclass(frozen=True)
class Operation:
    """One SP-API operation: route, usage plan and handler."""

    name: str
    method: str
    path: str
    plan: ratelimit.Plan
    handler: Callable[[Ctx], Result]
    restricted: bool = False
    """Whether a restricted data token may be used for this operation."""
    rdt_elements: frozenset[str] | None = None
    """Data elements an RDT may unlock here (None: the path itself is the grant)."""

    @property
    def rdt_operation(self) -> rdt.RestrictedOperation | None:
        """Return the operation as the Tokens API sees it (None if not restricted)."""
        if not self.restricted:
            return None
        return rdt.RestrictedOperation(self.method, self.path, self.rdt_elements)


def _bucket_key(caller: Caller, operation: str) -> str:
    return f"spapi:{caller.seller.seller_id}:{caller.client_id}:{operation}"


def _unlocked(
    op: Operation, caller: Caller, outcome: ratelimit.Outcome, request: Request
) -> set[str]:
    """The data elements the call may see; 429 over the quota, 403 for an RDT not covering it."""
    if not outcome.allowed:
        raise SpApiError(
            429, "QuotaExceeded", "You exceeded your quota for the requested resource."
        )
    if caller.rdt_resources is None:
        return set()
    covering = op.rdt_operation
    unlocked = (
        rdt.covered(caller.rdt_resources, covering, request.url.path)
        if covering is not None
        else None
    )
    if unlocked is None:
        raise _denied("The restricted data token does not cover this operation.")
    return unlocked


def endpoint(
    op: Operation, restricted: tuple[rdt.RestrictedOperation, ...]
) -> Callable[[Request], Any]:
    """Return the Starlette endpoint running ``op`` (auth, rate limit, coverage, handler)."""

    async def handle(request: Request) -> Response:
        store = request.app.state.store
        body = await request.body()
        refusal: SpApiError | None = None
        try:
            with store.tx() as tx:
                now = tx.now()
                caller = authenticate(tx, request.headers.get("x-amz-access-token"), now)
                outcome = ratelimit.take(tx, _bucket_key(caller, op.name), op.plan, now)
                try:
                    elements = _unlocked(op, caller, outcome, request)
                    with store.tx() as joined:  # a savepoint: an error undoes the handler only
                        ctx = Ctx(request, body, caller, joined, now, elements, restricted)
                        status, payload = op.handler(ctx)
                except SpApiError as err:
                    refusal = err  # the request still counts: the bucket is committed
            if refusal is not None:
                raise refusal
        except SpApiError as err:
            if err.status in _LIMIT_HEADER_STATUSES:
                err.headers["x-amzn-RateLimit-Limit"] = op.plan.header
            raise
        headers = {"x-amzn-RateLimit-Limit": op.plan.header}
        if payload is None:
            return Response(b"", status, headers)
        if isinstance(payload, bytes):
            return Response(payload, status, headers, JSON_TYPE)
        return _PayloadJSON(payload, status, headers)

    handle.__name__ = op.name
    return handle
