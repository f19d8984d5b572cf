"""A small Selling Partner API client for the Orders v0 operations a device maker needs.

Authentication is LwA's ``refresh_token`` grant for the seller application; the access
token is cached until shortly before it expires and sent as ``x-amz-access-token``.
Operations: getOrders (with ``NextToken`` paging), getOrder, getOrderItems (paging) and
confirmShipment. Paths and shapes follow ``shared/models/ordersV0.json``.

Errors: SP-API answers ``{"errors": [{"code", "message", "details"}]}``; they become
:class:`SpApiError` (``AuthError`` for 401/403 and LwA grant failures). A 429 is waited
out and retried a bounded number of times: the ``x-amzn-RateLimit-Limit`` header gives
the rate in requests per second (on the 429 itself, or remembered from an earlier answer,
or the model's default plan), so one request's worth of quota is ``1 / rate`` seconds.
5xx answers and transport errors are retried too, with exponential back-off. All waiting
goes through the ``wait`` callable, so callers can show a countdown and tests never sleep.
Secrets never appear in a message.
"""

from __future__ import annotations

import math
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from drsctl.backoffice.credentials import SpApiCredentials

MARKETPLACE_US = "ATVPDKIKX0DER"
ORDERS = "/orders/v0/orders"
USER_AGENT = "drsctl/0.1 (Language=Python)"
TOKEN_MARGIN_S = 60.0
MAX_WAIT_S = 120.0
MAX_PAGE = 100  # getOrders' MaxResultsPerPage ceiling (and default)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
USAGE_PLAN_RATES = {
    "getOrders": 0.0167,
    "getOrder": 0.5,
    "getOrderItems": 0.5,
    "confirmShipment": 2.0,
}
"""Default usage plans (requests per second) from the Orders v0 model."""

Waiter = Callable[[float, str], None]
"""``wait(seconds, reason)``: pause before a retry (a countdown, or a test's recorder)."""


def plain_wait(seconds: float, reason: str) -> None:
    """Wait quietly on the wall clock (the default :data:`Waiter`)."""
    time.sleep(seconds)


class SpApiError(Exception):
    """An SP-API (or LwA) call failed; ``str()`` is a message fit for a user."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        code: str | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.operation = operation


class AuthError(SpApiError):
    """The credentials were refused (LwA grant failure, or SP-API 401/403)."""


class ThrottledError(SpApiError):
    """Still throttled (429) after the allowed retries."""


class EmulatorThrottled(ThrottledError):
    """Throttled by the emulator, whose buckets refill on its virtual clock only.

    Waiting real seconds would not help, so the message says how to go on instead.
    """


class TransportFailure(SpApiError):
    """No HTTP answer (connection, TLS, timeout); ``retryable`` unless TLS verification failed."""

    def __init__(self, message: str, operation: str, retryable: bool) -> None:
        super().__init__(message, operation=operation)
        self.retryable = retryable


@dataclass(frozen=True)
class ShipmentItem:
    """One line of a shipment confirmation."""

    order_item_id: str
    quantity: int


def announced_rate(response: httpx.Response) -> float | None:
    """The ``x-amzn-RateLimit-Limit`` of a response (requests per second), if usable."""
    try:
        rate = float(response.headers.get("x-amzn-RateLimit-Limit", ""))
    except ValueError:
        return None
    return rate if math.isfinite(rate) and rate > 0 else None


def retry_delay(response: httpx.Response, attempt: int, rate: float | None = None) -> float:
    """Seconds to wait before retrying a throttled (429) or failed (5xx) ``response``.

    A 429 waits for one request's worth of quota, ``1 / rate``: the response's own
    ``x-amzn-RateLimit-Limit``, else ``rate`` (what the caller knows of the operation).
    Otherwise a numeric ``Retry-After``, else exponential (1, 2, 4, … s). At most
    ``MAX_WAIT_S``.
    """
    if response.status_code == 429:
        rate = announced_rate(response) or rate
        if rate:
            return min(1.0 / rate, MAX_WAIT_S)
    try:
        seconds = float(response.headers.get("Retry-After", ""))
    except ValueError:
        seconds = 0.0
    if math.isfinite(seconds) and seconds > 0:
        return min(seconds, MAX_WAIT_S)
    return min(float(2**attempt), MAX_WAIT_S)


def _error_text(response: httpx.Response) -> tuple[str | None, str]:
    """Return (code, message) from an SP-API or LwA error body, or the bare status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            lines = []
            for err in errors:
                line = str(err.get("message") or "").strip() or "(no message)"
                if err.get("details"):
                    line += f" ({err['details']})"
                lines.append(line)
            return str(errors[0].get("code") or "") or None, "; ".join(lines)
        if "error" in body:  # LwA
            return str(body["error"]), str(body.get("error_description") or body["error"])
        if "message" in body:
            return None, str(body["message"])
    return None, response.reason_phrase or f"HTTP {response.status_code}"


class SpApiClient:
    """Orders v0 operations against one SP-API endpoint with one seller's credentials."""

    def __init__(
        self,
        credentials: SpApiCredentials,
        *,
        wait: Waiter = plain_wait,
        max_retries: int = 3,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.credentials = credentials
        self.wait = wait
        self.max_retries = max_retries
        self._clock = clock
        self._token: str | None = None
        self._token_expires = 0.0
        # Requests per second per operation: the documented plans, then what the server says
        # (a 429 need not carry x-amzn-RateLimit-Limit; the last announced rate still holds).
        self._rates: dict[str, float] = dict(USAGE_PLAN_RATES)
        verify: ssl.SSLContext | bool = True
        if credentials.ca_bundle is not None:
            verify = ssl.create_default_context(cafile=str(credentials.ca_bundle))
        self._http = httpx.Client(
            timeout=timeout,
            verify=verify,
            transport=transport,
            headers={"user-agent": USER_AGENT},
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> SpApiClient:
        """Use as a context manager (closes the pool on exit)."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the connection pool."""
        self.close()

    # -- plumbing ----------------------------------------------------------

    def _redact(self, text: str) -> str:
        """Replace every secret (and the access token) that might appear in ``text``."""
        for secret in (*self.credentials.secrets(), self._token or ""):
            if secret:
                text = text.replace(secret, "***")
        return text

    def _auth_failure(self, what: str) -> AuthError:
        """An :class:`AuthError` naming the credential source (never a secret)."""
        return AuthError(
            self._redact(
                f"{what}. Credentials used: {self.credentials.describe()}. "
                "Check that they belong to the seller's SP-API application."
            ),
            status=403,
        )

    def _send(self, method: str, url: str, operation: str, **kwargs: Any) -> httpx.Response:
        """One HTTP exchange; transport errors become :class:`TransportFailure`.

        A refused or unresolvable connection is final (retrying would only repeat it);
        a timeout or a dropped connection may be retried.
        """
        try:
            return self._http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            base = urlsplit(url)
            where = f"{base.scheme}://{base.netloc}"
            text = f"cannot reach {where} ({operation}): {exc}"
            certificate = "CERTIFICATE_VERIFY_FAILED" in str(exc)
            if certificate:
                text += " (for a private CA such as the emulator's, set SPAPI_CA_BUNDLE)"
            elif isinstance(exc, httpx.ConnectError):
                source = self.credentials.sources.get("endpoint", "the default")
                text += f"; check the endpoint (from {source})"
            retryable = not (certificate or isinstance(exc, httpx.ConnectError))
            raise TransportFailure(
                self._redact(text), operation=operation, retryable=retryable
            ) from None

    def emulator_clock(self) -> int | None:
        """The emulator's virtual time (Unix seconds), or None if this is not the emulator.

        Amazon's hosts are never asked.
        """
        host = urlsplit(self.credentials.endpoint).hostname or ""
        if host == "amazon.com" or host.endswith(".amazon.com"):
            return None
        try:
            answer = self._http.get(self.credentials.endpoint + "/_emulator/clock")
            return int(answer.json()["now"]) if answer.status_code == 200 else None
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            return None

    def _throttled_by_emulator(self, operation: str) -> EmulatorThrottled | None:
        """The error to raise at once for a 429 from the emulator, or None elsewhere."""
        if self.emulator_clock() is None:
            return None
        endpoint = self.credentials.endpoint
        return EmulatorThrottled(
            f"{operation} throttled (429) by the emulator, whose rate limits refill on its "
            f"virtual clock only: move the clock (POST {endpoint}/_emulator/clock "
            '{"advance": 60}) or turn throttling off (POST '
            f'{endpoint}/_emulator/rate-limits {{"enabled": false}}), then run the command again',
            status=429,
            operation=operation,
        )

    def access_token(self) -> str:
        """Return a valid LwA access token, fetching a new one when needed."""
        if self._token and self._clock() < self._token_expires:
            return self._token
        creds = self.credentials
        response = self._send(
            "POST",
            creds.lwa_url,
            "LwA token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": creds.refresh_token,
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
            },
        )
        if response.status_code != 200:
            code, message = _error_text(response)
            what = f"LwA refused the refresh token grant ({response.status_code} {code}: {message})"
            if response.status_code in (400, 401, 403):
                raise self._auth_failure(what)
            raise SpApiError(self._redact(what), status=response.status_code, code=code)
        try:
            body = response.json()
            token = str(body["access_token"])
            expires_in = float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise SpApiError(f"LwA at {creds.lwa_url} answered without an access token") from None
        self._token = token
        self._token_expires = self._clock() + max(expires_in - TOKEN_MARGIN_S, 0.0)
        return token

    def request(
        self,
        method: str,
        path: str,
        operation: str,
        params: dict[str, str] | None = None,
        json: Any = None,
    ) -> Any:
        """Call an SP-API operation; return the ``payload`` (or None for 204).

        Retries 429/5xx/transport failures up to ``max_retries`` times through ``wait``;
        refreshes the access token once on 401/403 when it was a cached one.
        """
        url = self.credentials.endpoint + path
        refreshed = False
        attempt = 0
        while True:
            cached = self._token is not None and self._clock() < self._token_expires
            try:
                headers = {"x-amz-access-token": self.access_token()}
                response = self._send(
                    method, url, operation, params=params, json=json, headers=headers
                )
            except TransportFailure as failure:
                if not failure.retryable or attempt >= self.max_retries:
                    raise
                attempt += 1
                reason = f"{failure.operation}: connection failed"
                self.wait(min(float(2**attempt), MAX_WAIT_S), reason)
                continue
            status = response.status_code
            rate = announced_rate(response)
            if rate:
                self._rates[operation] = rate
            if status in (401, 403) and cached and not refreshed:
                self._token, refreshed = None, True  # maybe expired early: one fresh try
                continue
            if status == 429 and attempt == 0:
                emulator_says = self._throttled_by_emulator(operation)
                if emulator_says is not None:
                    raise emulator_says
            if status in RETRY_STATUSES and attempt < self.max_retries:
                delay = retry_delay(response, attempt, self._rates.get(operation))
                attempt += 1
                reason = "throttled (429)" if status == 429 else f"server error ({status})"
                self.wait(delay, f"{operation} {reason}, retry {attempt}/{self.max_retries}")
                continue
            return self._result(response, operation)

    def _result(self, response: httpx.Response, operation: str) -> Any:
        """The payload of a final answer, or the matching :class:`SpApiError`."""
        status = response.status_code
        if status == 204:
            return None
        if 200 <= status < 300:
            try:
                body = response.json()
            except ValueError:
                raise SpApiError(
                    f"{operation}: the answer is not JSON", status=status, operation=operation
                ) from None
            return body.get("payload", body) if isinstance(body, dict) else body
        code, message = _error_text(response)
        text = f"{operation} failed: {status} {code or response.reason_phrase}: {message}"
        if status in (401, 403):
            error = self._auth_failure(f"SP-API denied access ({operation}: {status} {message})")
            error.code, error.operation = code, operation
            raise error
        if status == 429:
            raise ThrottledError(
                self._redact(f"{text} (still throttled after {self.max_retries} retries)"),
                status=status,
                code=code,
                operation=operation,
            )
        raise SpApiError(self._redact(text), status=status, code=code, operation=operation)

    # -- operations --------------------------------------------------------

    def get_orders(
        self,
        *,
        limit: int | None = None,
        marketplace_ids: Sequence[str] = (MARKETPLACE_US,),
        created_after: str | None = None,
        created_before: str | None = None,
        updated_after: str | None = None,
        updated_before: str | None = None,
        statuses: Sequence[str] = (),
        max_per_page: int | None = None,
        next_token: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """getOrders, following ``NextToken`` pages; return (orders, token to go on or None).

        At most ``limit`` orders (all when None). The last page asks for only as many
        orders as are still wanted, so the returned token continues right after the last
        order returned: nothing is skipped when a listing is resumed with it.
        """
        params: dict[str, str] = {"MarketplaceIds": ",".join(marketplace_ids)}
        for name, value in (
            ("CreatedAfter", created_after),
            ("CreatedBefore", created_before),
            ("LastUpdatedAfter", updated_after),
            ("LastUpdatedBefore", updated_before),
        ):
            if value:
                params[name] = value
        if statuses:
            params["OrderStatuses"] = ",".join(statuses)
        orders: list[dict[str, Any]] = []
        while True:
            page_params = dict(params)
            size = max_per_page
            if limit is not None and limit - len(orders) < (size or MAX_PAGE):
                size = limit - len(orders)
            if size:
                page_params["MaxResultsPerPage"] = str(size)
            if next_token:
                page_params["NextToken"] = next_token
            payload = self.request("GET", ORDERS, "getOrders", params=page_params) or {}
            orders += payload.get("Orders") or []
            next_token = payload.get("NextToken") or None
            if not next_token or (limit is not None and len(orders) >= limit):
                return orders[:limit] if limit is not None else orders, next_token

    def get_order(self, order_id: str) -> dict[str, Any]:
        """getOrder: one order."""
        return self.request("GET", f"{ORDERS}/{_path_id(order_id)}", "getOrder") or {}

    def get_order_items(self, order_id: str) -> list[dict[str, Any]]:
        """getOrderItems: every item of an order (all ``NextToken`` pages)."""
        items: list[dict[str, Any]] = []
        params: dict[str, str] | None = None
        path = f"{ORDERS}/{_path_id(order_id)}/orderItems"
        while True:
            payload = self.request("GET", path, "getOrderItems", params=params) or {}
            items += payload.get("OrderItems") or []
            token = payload.get("NextToken")
            if not token:
                return items
            params = {"NextToken": token}

    def confirm_shipment(
        self,
        order_id: str,
        *,
        package_reference_id: str,
        carrier_code: str,
        tracking_number: str,
        ship_date: str,
        items: Sequence[ShipmentItem],
        marketplace_id: str = MARKETPLACE_US,
        carrier_name: str | None = None,
        shipping_method: str | None = None,
    ) -> dict[str, Any]:
        """confirmShipment; return the request body that was accepted (204)."""
        package: dict[str, Any] = {
            "packageReferenceId": package_reference_id,
            "carrierCode": carrier_code,
            "trackingNumber": tracking_number,
            "shipDate": ship_date,
            "orderItems": [{"orderItemId": i.order_item_id, "quantity": i.quantity} for i in items],
        }
        if carrier_name:
            package["carrierName"] = carrier_name
        if shipping_method:
            package["shippingMethod"] = shipping_method
        body = {"marketplaceId": marketplace_id, "packageDetail": package}
        path = f"{ORDERS}/{_path_id(order_id)}/shipmentConfirmation"
        self.request("POST", path, "confirmShipment", json=body)
        return body


def _path_id(order_id: str) -> str:
    """An order id safe to put in a path (3-7-7 ids pass unchanged)."""
    return quote(order_id, safe="")
