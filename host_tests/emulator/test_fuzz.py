"""Fuzz-ish sweep: every route × every kind of bad input answers < 500 in its service's shape.

For each route (the list is checked against the running application, so a new route
cannot be forgotten) and each kind of input (bad JSON, nested JSON, NaN, huge numbers,
wrong types, empty body, wrong method, bad query parameters) the route is called with a
live token and real ids, so the input reaches the route's own validation. Kinds that need
a body shape mutate every node of a valid template body in turn. Every answer must be
below 500, carry ``x-amzn-RequestId``, never show a traceback, and an error answer must be
in the service's shape: SP-API ``{"errors": [...]}``, MWS ``ErrorResponse`` XML, LwA
``{"error", "error_description"}``, otherwise ``{"message"}``.
"""

import copy
import itertools
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from drsctl.emulator import control, drs, mws, spapi
from drsctl.emulator.spapi.listing import GET_ORDERS_PARAMS

from host_tests.emulator.conftest import drs_headers
from host_tests.emulator.seller_world import MWS_NS, US, World

Json = Any
ROUTES: list[tuple[str, str]] = sorted(
    {("POST", "/auth/o2/token")}
    | {(e.method, e.path) for e in drs.ENDPOINTS}
    | {
        (m, r.path)
        for r in [*control.ROUTES, *spapi.ROUTES, *mws.ROUTES]
        for m in r.methods or ()
        if m != "HEAD"
    }  # fmt: skip
)
"""Every (method, path) the emulator serves."""

KINDS = (
    "bad_json", "nested_json", "nan", "huge_numbers", "wrong_types", "empty_body",
    "wrong_method", "bad_query",
)  # fmt: skip
_serials = itertools.count(1)


@dataclass
class Ctx:
    """A fresh device (plain and regulated slot), its orders and its seller, for one route."""

    world: World
    device: dict[str, Any]
    seller_token: str
    eid: str
    order_id: str
    item_id: str
    regulated_order_id: str

    def path_params(self, path: str) -> dict[str, str]:
        """Return real values for the path's parameters."""
        order = self.regulated_order_id if path.endswith("/regulatedInfo") else self.order_id
        return {"slotId": "toner", "eventInstanceId": self.eid, "serial": self.device["serial"],
                "model": self.device["model"], "orderId": order}  # fmt: skip


def _context(world: World) -> Ctx:
    world.refill()
    device = world.device(slots=[{"id": "toner", "quantity": 2},
                                 {"id": "meds", "quantity": 1, "regulated": True}])  # fmt: skip
    with world.emulator.store.tx() as tx:
        record = tx.device(device["device_id"])
        assert record is not None
        device["serial"] = record.serial
        device["model"] = record.model
    eid = world.replenish(device, "toner")
    regulated = world.order(world.replenish(device, "meds"))["amazon_order_id"]
    world.advance(600)
    seller = world.seller(device["seller_id"])
    order = world.order(eid)
    return Ctx(world, device, seller.token, eid, order["amazon_order_id"],
               order["order_item_id"], regulated)  # fmt: skip


def _templates(ctx: Ctx, method: str, path: str) -> list[Json]:
    """Return valid-looking bodies of a route (mutated node by node), or [] if it takes none."""
    serial = f"FUZZ-{next(_serials):05d}"
    slot = {"id": "a", "asin": "B00FUZZ001", "quantity": 1, "unit": "count", "title": "t",
            "price": "1.00", "currency": "USD", "subscribed": True, "regulated": False}  # fmt: skip
    device = ctx.device
    package = {"packageReferenceId": "7", "carrierCode": "UPS", "carrierName": "UPS",
               "shippingMethod": "Ground", "trackingNumber": "1Z9", "shipDate":
               "2026-01-02T10:00:00Z", "shipFromSupplySourceId": "S1",
               "orderItems": [{"orderItemId": ctx.item_id, "quantity": 1,
                               "transparencyCodes": ["c"]}]}  # fmt: skip
    bodies: dict[tuple[str, str], list[Json]] = {
        ("POST", "/slotStatus/{slotId}"): [{
            "expectedReplenishmentDate": "2026-01-05T07:59:59Z", "remainingQuantityInUnit": 3,
            "originalQuantityInUnit": 10, "totalQuantityOnHand": 13.5,
            "lastUseDate": "2026-01-01T00:00:00Z"}],
        ("POST", "/deviceStatus"): [{"mostRecentlyActiveDate": "2026-01-01T00:00:00Z"}],
        ("POST", "/deviceStatus/{serial}"): [{"mostRecentlyActiveDate": "2026-01-01"}],
        ("POST", "/_emulator/provision"): [{
            "serial": serial, "model": "fuzz-m1", "customer": "Fuzz", "test_orders": False,
            "seller_id": "FUZZSELLER0001", "slots": [slot]}],
        ("POST", "/_emulator/clients"): [{"redirect_uri": "https://localhost/cb"}],
        ("POST", "/_emulator/customers"): [{"name": "Fuzz", "email": "f@example.com"}],
        ("POST", "/_emulator/devices"): [{
            "customer_id": device["customer_id"], "client_id": device["client_id"],
            "serial": serial, "model": "fuzz-m1", "slots": [slot]}],
        ("POST", "/_emulator/authcodes"): [{"device_id": device["device_id"]}],
        ("POST", "/_emulator/clock"): [{"advance": 1}, {"set": 4000000000}],
        ("POST", "/_emulator/settings"): [
            {"authorize_after_s": 600, "delivery_days": 2.5, "cancel_window_s": 86400}],
        ("POST", "/_emulator/faults"): [
            {"route": "replenish", "kind": "status", "count": 1, "status": 418, "after": False}],
        ("POST", "/_emulator/tokens/expire"): [{"device_id": device["device_id"]}],
        ("POST", "/_emulator/refresh-tokens/revoke"): [{"device_id": device["device_id"]}],
        ("POST", "/_emulator/sellers"): [
            {"name": "Fuzz", "seller_id": "FUZZSELLER0002", "marketplace_id": US}],
        ("POST", "/_emulator/rate-limits"): [{"enabled": False}],
        ("POST", "/orders/v0/orders/{orderId}/shipment"): [{
            "marketplaceId": US, "shipmentStatus": "ReadyForPickup",
            "orderItems": [{"orderItemId": ctx.item_id, "quantity": 1}]}],
        ("POST", "/orders/v0/orders/{orderId}/shipmentConfirmation"): [{
            "marketplaceId": US, "codCollectionMethod": "DirectPayment",
            "packageDetail": package}],
        ("PATCH", "/orders/v0/orders/{orderId}/regulatedInfo"): [{
            "regulatedOrderVerificationStatus": {
                "status": "Rejected", "externalReviewerId": "r1",
                "rejectionReasonId": "shield_pom_vps_reject_age",
                "verificationDetails": {"prescriptionDetail": {}}}}],
        ("POST", "/tokens/2021-03-01/restrictedDataToken"): [{
            "targetApplication": "amzn1.sp.solution.x",
            "restrictedResources": [{"method": "GET", "path": "/orders/v0/orders/{orderId}",
                                     "dataElements": ["buyerInfo"]}]}],
    }  # fmt: skip
    return bodies.get((method, path), [])


def _nodes(value: Json, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Yield the address of every node below the root of a JSON value."""
    children = value.items() if isinstance(value, dict) else enumerate(value) \
        if isinstance(value, list) else ()  # fmt: skip
    for key, child in children:
        yield (*at, key)
        yield from _nodes(child, (*at, key))


def _replaced(template: Json, at: tuple[Any, ...], new: Json) -> Json:
    body = copy.deepcopy(template)
    target = body
    for key in at[:-1]:
        target = target[key]
    target[at[-1]] = new
    return body


def _mutations(templates: list[Json], values: list[Json]) -> list[bytes]:
    """Each template with each node replaced by each value (NaN/Infinity written as such)."""
    return [
        json.dumps(_replaced(t, at, v), allow_nan=True).encode()
        for t in templates for at in _nodes(t) for v in values
    ]  # fmt: skip


NAN = [float("nan"), float("inf"), float("-inf")]
HUGE = [10**30, -(10**30), 2**63, 1e308, -1e308]
WRONG = ["x", "", "١", "\ud800", [], {}, True, False, None, -1, 0.5, [None], {"a": None}]
QUERY_VALUES = ["١", "²", "9" * 5000, "-1", "", "NaN", "1e400", "\x00", "%ff", "[[[["]
QUERY_NAMES: dict[tuple[str, str], tuple[str, ...]] = {
    ("GET", "/_emulator/requests"): ("since", "limit"),
    ("GET", "/_emulator/slot-status"): ("device_id",),
    ("GET", "/_emulator/orders"): ("device_id", "slot_id"),
    ("GET", "/orders/v0/orders"): GET_ORDERS_PARAMS,
    ("GET", "/orders/v0/orders/{orderId}/orderItems"): ("NextToken",),
    ("GET", "/orders/v0/orders/{orderId}/orderItems/buyerInfo"): ("NextToken",),
    ("GET", "/Orders/2013-09-01"): ("AmazonOrderId.Id.1", "AmazonOrderId.Id.١", "Timestamp"),
}


def _cases(ctx: Ctx, kind: str, method: str, path: str) -> Iterator[dict[str, Any]]:
    """Yield the requests (``httpx`` keyword arguments) of one kind for one route."""
    templates = _templates(ctx, method, path)
    bodies: list[bytes] = []
    if kind == "bad_json":
        bodies = [b"{bad", b"\xff\xfe\x00", b'{"a": 1,}', b"{'a': 1}", b"[1]", b'"text"', b"null"]
    elif kind == "nested_json":
        bodies = [b"[" * 20000, b'{"a":' * 5000, b"[" * 65 + b"]" * 65,
                  b'{"a": ' + b"[" * 100 + b"]" * 100 + b"}"]  # fmt: skip
    elif kind == "nan":
        bodies = [b'{"x": NaN}', b"[Infinity]", b"-Infinity", *_mutations(templates, NAN)]
    elif kind == "huge_numbers":
        bodies = [b'{"x": 1e400}', b"9" * 5000, b'{"x": -' + b"9" * 4000 + b"}",
                  *_mutations(templates, HUGE)]  # fmt: skip
    elif kind == "wrong_types":
        bodies = [b"1", b"true", b'"\\ud800"', b'{"x": "\\udfff"}',
                  *(json.dumps([t]).encode() for t in templates),
                  *_mutations(templates, WRONG)]  # fmt: skip
    elif kind == "empty_body":
        yield {"content": b""}
        yield {"content": b"", "headers": {"content-type": "application/json"}}
        yield {"content": b"  \n"}
        bodies = [b"{}"]
    elif kind == "wrong_method":
        allowed = {m for m, p in ROUTES if p == path}
        other = next(m for m in ("PUT", "PATCH", "DELETE", "POST", "GET") if m not in allowed)
        yield {"method": other, "content": b'{"x": NaN}'}
    elif kind == "bad_query":
        base = {"MarketplaceIds": US, "CreatedAfter": "2020-01-01"} \
            if path == "/orders/v0/orders" else {}  # fmt: skip
        for name in QUERY_NAMES.get((method, path), ("x",)):
            for value in QUERY_VALUES:
                yield {"params": {**base, name: value}}
        yield {"params": {**base, "MaxResultsPerPage": "١"}}
    for body in bodies:
        yield {"content": body, "headers": {"content-type": "application/json"}}


def _check(method: str, path: str, request: dict[str, Any], response: httpx.Response) -> None:
    """Assert the answer is < 500, has a request id and, if an error, the service's shape."""
    where = f"{method} {path} {str(request)[:300]}"
    assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:300]}"
    assert response.headers.get("x-amzn-requestid"), where
    assert "Traceback" not in response.text, where
    if path == mws.PATH:
        root = ET.fromstring(response.text)
        if response.status_code >= 400:
            assert root.tag == f"{{{MWS_NS['m']}}}ErrorResponse", where
            assert root.findtext("m:Error/m:Code", namespaces=MWS_NS), where
            assert root.findtext("m:Error/m:Message", namespaces=MWS_NS), where
        return
    if response.status_code < 400:
        if response.content:
            response.json()
        return
    body = response.json()
    assert isinstance(body, dict), where
    if path.startswith(spapi.PREFIXES):
        errors = body["errors"]
        assert errors and all(e["code"] and e["message"] for e in errors), where
    elif path == "/auth/o2/token" and "error" in body:
        assert body["error"] and body["error_description"], where
    else:
        assert isinstance(body["message"], str) and body["message"], where


@pytest.fixture(scope="module")
def contexts(world: World) -> Callable[[str], Ctx]:
    """Return the context of a route with a fresh access token.

    Contexts are cached per path (a route's own cases may not spoil another route's); one
    whose device can no longer get a token (deregistered, revoked) is replaced.
    """
    made: dict[str, Ctx] = {}

    def get(route_path: str) -> Ctx:
        for _ in range(2):
            ctx = made.get(route_path) or _context(world)
            made[route_path] = ctx
            grant = world.http.post("/auth/o2/token", data={
                "grant_type": "refresh_token", "refresh_token": ctx.device["refresh_token"],
                "client_id": ctx.device["client_id"],
                "client_secret": ctx.device["client_secret"]})  # fmt: skip
            if grant.status_code == 200:
                ctx.device["access_token"] = grant.json()["access_token"]
                return ctx
            del made[route_path]
        raise AssertionError(f"no token for a fresh device: {grant.text}")

    return get


def test_the_route_list_is_complete(world: World) -> None:
    served = {(m, r.path) for r in world.emulator.app.routes
              for m in getattr(r, "methods", None) or () if m != "HEAD"}  # fmt: skip
    assert served == set(ROUTES)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_bad_input_never_makes_a_500(
    world: World, contexts: Callable[[str], Ctx], method: str, path: str, kind: str
) -> None:
    ctx = contexts(path)
    http = world.http
    assert http.post("/_emulator/rate-limits", json={"enabled": False}).status_code == 200
    headers: dict[str, str] = {}
    endpoint = next((e for e in drs.ENDPOINTS if (e.method, e.path) == (method, path)), None)
    if endpoint is not None:
        headers = drs_headers(endpoint.name, ctx.device["access_token"])
    if path.startswith(spapi.PREFIXES):
        headers = {"x-amz-access-token": ctx.seller_token}
    url = path.format(**ctx.path_params(path))
    sent = 0
    try:
        for request in _cases(ctx, kind, method, path):
            call_method = request.pop("method", method)
            request["headers"] = {**headers, **request.get("headers", {})}
            response = http.request(call_method, url, **request)
            _check(call_method, path, request, response)
            sent += 1
    finally:
        http.delete("/_emulator/faults")
        http.post("/_emulator/faults/release")
        http.post("/_emulator/rate-limits", json={"enabled": True})
    assert sent
