r"""Amazon MWS Orders API 2013-09-01: ``GetOrder`` (XML, Signature Version 2).

``GET`` or ``POST /Orders/2013-09-01`` with the parameters in the query string and/or
a form body. Checks, in order:

1. required parameters (``MissingParameter``), ``SignatureVersion`` 2 and
   ``SignatureMethod`` HmacSHA256 or HmacSHA1 (``InvalidParameterValue``);
2. the access key (``InvalidAccessKeyId``, 403) and the signature over
   ``METHOD\nhost\n/Orders/2013-09-01\n<sorted, RFC 3986-encoded parameters>`` with the
   host from the ``Host`` header (``SignatureDoesNotMatch``, 403);
3. ``Timestamp`` within 15 minutes of the emulator's virtual clock or of the wall clock
   (real clients sign with the wall clock, tests move the virtual one), or ``Expires``
   in the future (``RequestExpired``, 400);
4. ``SellerId`` (and ``MWSAuthToken`` if given) belong to the key (``AccessDenied``, 401);
5. the quota: 6 requests, restoring 1 per minute of virtual time (``RequestThrottled``,
   503; headers ``x-mws-quota-*``);
6. ``Action`` and its parameters.

``GetOrder`` returns the caller's orders among up to 50 ``AmazonOrderId.Id.N``; unknown
ids and other sellers' orders are simply not in the answer. Buyer contact and charge
data follow the seed's availability table (none while Pending).
"""

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote
from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import clock, ids, inputs, ratelimit
from .errors import ServiceError
from .marketplaces import ORDER_ID
from .order_view import OrderView
from .store import MwsKey, Order, Tx

PATH = "/Orders/2013-09-01"
VERSION = "2013-09-01"
NAMESPACE = "https://mws.amazonservices.com/Orders/2013-09-01"
MAX_IDS = 50
TIMESTAMP_SKEW_S = 15 * 60
GET_ORDER_PLAN = ratelimit.Plan(rate=1 / 60, burst=6)
_REQUIRED = ("AWSAccessKeyId", "Action", "SellerId", "SignatureVersion", "Signature", "Version")
_DIGESTS = {"HmacSHA256": hashlib.sha256, "HmacSHA1": hashlib.sha1}


class MwsError(ServiceError):
    """An MWS error answer: an XML ``ErrorResponse`` whose ``RequestID`` is the request's."""

    def response(self, request_id: str) -> Response:
        """Return the ``ErrorResponse`` document."""
        body = error_xml(self.code, self.message, request_id)
        return _xml_response(body, self.status, request_id, self.headers)


def edge_error(status: int, message: str) -> MwsError:
    """Return the MWS error for a failure outside GetOrder (404, 405, 413, 500)."""
    code = "InvalidAddress" if status == 404 else "InvalidParameterValue"
    return MwsError(status, "InternalError" if status >= 500 else code, message)


def _invalid(message: str) -> MwsError:
    return MwsError(400, "InvalidParameterValue", message)


def error_xml(code: str, message: str, request_id: str) -> bytes:
    """Return an MWS ``ErrorResponse`` document."""
    kind = "Receiver" if code in ("InternalError", "RequestThrottled") else "Sender"
    return (
        f'<?xml version="1.0"?>\n<ErrorResponse xmlns="{NAMESPACE}">'
        f"<Error><Type>{kind}</Type><Code>{escape(code)}</Code>"
        f"<Message>{escape(message)}</Message></Error>"
        f"<RequestID>{request_id}</RequestID></ErrorResponse>"
    ).encode()


def _xml_response(body: bytes, status: int, request_id: str, headers: dict[str, str]) -> Response:
    headers = {
        "x-mws-request-id": request_id,
        "x-amzn-RequestId": request_id,
        "x-mws-timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        **headers,
    }
    return Response(body, status, headers, media_type="text/xml")


def _encode(value: str) -> str:
    """RFC 3986 percent-encoding, as SigV2 wants it."""
    return quote(value, safe="-_.~")


def string_to_sign(method: str, host: str, path: str, params: dict[str, str]) -> str:
    """Return the Signature Version 2 string to sign."""
    canonical = "&".join(
        f"{_encode(k)}={_encode(v)}" for k, v in sorted(params.items()) if k != "Signature"
    )
    return "\n".join([method.upper(), host.lower(), path or "/", canonical])


def sign(secret_key: str, method: str, host: str, path: str, params: dict[str, str]) -> str:
    """Return the base64 SigV2 signature of a request (HmacSHA256 unless the params say SHA1)."""
    digest = _DIGESTS.get(params.get("SignatureMethod", "HmacSHA256"), hashlib.sha256)
    mac = hmac.new(secret_key.encode(), string_to_sign(method, host, path, params).encode(), digest)
    return base64.b64encode(mac.digest()).decode()


def _parse_time(name: str, raw: str) -> int:
    try:
        return clock.parse_iso(raw.strip())
    except (ValueError, OverflowError, OSError):
        raise _invalid(f"{name} {raw[:40]!r} is not a valid ISO 8601 date-time.") from None


async def _params(request: Request) -> dict[str, str]:
    """Collect query and form parameters; a parameter given twice is an error."""
    pairs = parse_qsl(request.url.query, keep_blank_values=True)
    if request.method == "POST":
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        raw = await request.body()
        if raw.strip():
            if content_type != "application/x-www-form-urlencoded":
                raise _invalid("The request body must be application/x-www-form-urlencoded.")
            try:
                pairs += parse_qsl(raw.decode(), keep_blank_values=True)
            except UnicodeDecodeError:
                raise _invalid("The request body is not valid form data.") from None
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in params:
            raise _invalid(f"Parameter {key[:60]} was given more than once.")
        params[key] = value
    return params


def _authenticate(tx: Tx, request: Request, params: dict[str, str], now: int) -> MwsKey:
    """Run checks 1–4 of the module docstring; return the caller's key."""
    for name in _REQUIRED:
        if not params.get(name):
            message = f"The request must contain the parameter {name}."
            raise MwsError(400, "MissingParameter", message)
    if params["SignatureVersion"] != "2":
        raise _invalid("SignatureVersion must be 2.")
    if params.get("SignatureMethod", "HmacSHA256") not in _DIGESTS:
        raise _invalid("SignatureMethod must be HmacSHA256 or HmacSHA1.")
    key = tx.mws_key(params["AWSAccessKeyId"])
    if key is None:
        raise MwsError(
            403,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
        )
    host = request.headers.get("host", "")
    expected = sign(key.secret_key, request.method, host, request.url.path, params)
    if not hmac.compare_digest(expected.encode(), params["Signature"].encode()):
        raise MwsError(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. "
            "Consult the service documentation for details.",
        )
    if ("Timestamp" in params) == ("Expires" in params):
        raise MwsError(
            400, "MissingParameter", "The request must contain exactly one of Timestamp or Expires."
        )
    wall = int(time.time())
    if "Timestamp" in params:
        stamp = _parse_time("Timestamp", params["Timestamp"])
        if min(abs(stamp - now), abs(stamp - wall)) > TIMESTAMP_SKEW_S:
            raise MwsError(
                400,
                "RequestExpired",
                "Request has expired: the Timestamp is more than 15 minutes away from the "
                "server's time.",
            )
    else:
        expires = _parse_time("Expires", params["Expires"])
        if expires < now and expires < wall:
            raise MwsError(400, "RequestExpired", "Request has expired: Expires is in the past.")
    if params["SellerId"] != key.seller_id:
        raise MwsError(401, "AccessDenied", "Access denied.")
    token = params.get("MWSAuthToken")
    if token is not None and ids.digest(token) != key.auth_token_hash:
        raise MwsError(401, "AccessDenied", "Access denied.")
    return key


def _bool(value: bool) -> str:
    return "true" if value else "false"


def order_xml(view: OrderView) -> str:
    """Return one ``<Order>`` element as GetOrder shows it."""
    order = view.order
    parts: list[tuple[str, str]] = [
        ("AmazonOrderId", order.amazon_order_id),
        ("SellerOrderId", order.amazon_order_id),
        ("PurchaseDate", clock.iso(order.created_at)),
        ("LastUpdateDate", clock.iso(order.updated_at)),
        ("OrderStatus", order.status),
        ("FulfillmentChannel", order.fulfillment_channel),
        ("SalesChannel", view.sales_channel),
        ("OrderChannel", view.order_channel),
        ("ShipServiceLevel", order.ship_service_level),
    ]
    profile = view.buyer
    xml = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in parts)
    if profile is not None:
        address = profile.address(pii=True)
        xml += (
            "<ShippingAddress>"
            + "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in address.items())
            + "</ShippingAddress>"
        )
        xml += (
            f"<OrderTotal><CurrencyCode>{escape(order.currency)}</CurrencyCode>"
            f"<Amount>{view.order_total}</Amount></OrderTotal>"
        )
    xml += (
        f"<NumberOfItemsShipped>{view.items_shipped}</NumberOfItemsShipped>"
        f"<NumberOfItemsUnshipped>{view.items_unshipped}</NumberOfItemsUnshipped>"
        "<PaymentMethod>Other</PaymentMethod>"
        "<PaymentMethodDetails><PaymentMethodDetail>Standard</PaymentMethodDetail>"
        "</PaymentMethodDetails>"
        f"<MarketplaceId>{escape(order.marketplace_id)}</MarketplaceId>"
    )
    if profile is not None:
        xml += (
            f"<BuyerEmail>{escape(profile.email)}</BuyerEmail>"
            f"<BuyerName>{escape(profile.name)}</BuyerName>"
        )
    xml += (
        "<ShipmentServiceLevelCategory>Standard</ShipmentServiceLevelCategory>"
        "<OrderType>StandardOrder</OrderType>"
        f"<EarliestShipDate>{clock.iso(order.created_at)}</EarliestShipDate>"
        f"<LatestShipDate>{clock.iso(order.expected_delivery)}</LatestShipDate>"
        "<IsBusinessOrder>false</IsBusinessOrder><IsPrime>false</IsPrime>"
        "<IsPremiumOrder>false</IsPremiumOrder>"
        "<IsGlobalExpressEnabled>false</IsGlobalExpressEnabled>"
        "<IsReplacementOrder>false</IsReplacementOrder>"
        "<IsAccessPointOrder>false</IsAccessPointOrder>"
        f"<HasRegulatedItems>{_bool(order.has_regulated_items)}</HasRegulatedItems>"
    )
    return f"<Order>{xml}</Order>"


def _order_ids(params: dict[str, str]) -> list[str]:
    """Return ``AmazonOrderId.Id.1..N`` in order (1..50, consecutive, 3-7-7)."""
    numbered: dict[int, str] = {}
    for key, value in params.items():
        if key.startswith("AmazonOrderId.Id."):
            index = inputs.ascii_uint(key[len("AmazonOrderId.Id.") :])
            if index is None or index < 1:
                raise _invalid(f"Invalid parameter {key[:60]}.")
            if index in numbered:  # "Id.1" and "Id.01" name the same value
                raise _invalid(f"Parameter AmazonOrderId.Id.{index} was given more than once.")
            numbered[index] = value
    if not numbered:
        raise MwsError(400, "MissingParameter", "The request must contain AmazonOrderId.Id.1.")
    if len(numbered) > MAX_IDS or max(numbered) > MAX_IDS:
        raise _invalid(f"At most {MAX_IDS} AmazonOrderId values are allowed.")
    for value in numbered.values():
        if not ORDER_ID.match(value):
            raise _invalid("AmazonOrderId must be in 3-7-7 format.")
    return [numbered[i] for i in sorted(numbered)]


def _get_order(tx: Tx, key: MwsKey, params: dict[str, str], request_id: str) -> bytes:
    found: list[Order] = []
    for amazon_order_id in dict.fromkeys(_order_ids(params)):
        order = tx.order_by_amazon_id(amazon_order_id)
        if order is not None and order.seller_id == key.seller_id:
            found.append(order)
    body = "".join(order_xml(OrderView.of(tx, order)) for order in found)
    return (
        f'<?xml version="1.0"?>\n<GetOrderResponse xmlns="{NAMESPACE}">'
        f"<GetOrderResult><Orders>{body}</Orders></GetOrderResult>"
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        "</GetOrderResponse>"
    ).encode()


def _quota_headers(outcome: ratelimit.Outcome, now: int) -> dict[str, str]:
    resets = now + max(1, round(outcome.seconds_to_next or 60))
    return {
        "x-mws-quota-max": str(GET_ORDER_PLAN.burst),
        "x-mws-quota-remaining": str(int(outcome.remaining)),
        "x-mws-quota-resetsOn": clock.iso(resets),
    }


async def orders_endpoint(request: Request) -> Response:
    """Serve ``/Orders/2013-09-01`` (errors are :class:`MwsError`, answered by the pipeline)."""
    request_id = ids.request_id_of(request.scope)
    store = request.app.state.store
    headers: dict[str, str] = {}
    try:
        params = await _params(request)
        with store.tx() as tx:
            now = tx.now()
            key = _authenticate(tx, request, params, now)
            outcome = ratelimit.take(tx, f"mws:{key.seller_id}:GetOrder", GET_ORDER_PLAN, now)
            headers = _quota_headers(outcome, now)
        if not outcome.allowed:
            raise MwsError(503, "RequestThrottled", "Request is throttled")
        if params["Version"] != VERSION:
            raise _invalid(f"Version must be {VERSION}.")
        if params["Action"] != "GetOrder":
            raise _invalid(f"Action {params['Action'][:40]!r} is not supported.")
        with store.tx() as tx:
            body = _get_order(tx, key, params, request_id)
    except MwsError as err:
        err.headers = {**headers, **err.headers}
        raise
    return _xml_response(body, 200, request_id, headers)


ROUTES = [Route(PATH, orders_endpoint, methods=["GET", "POST"])]
