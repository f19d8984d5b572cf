"""SP-API Orders v0 in the emulator: every operation, its errors, paging, rate limits.

Every SP-API answer is checked against Amazon's model (``spapi_schema.check_response``:
declared status, declared headers, body valid against the schema with objects closed).
"""

import sqlite3
from datetime import UTC, datetime

import pytest
from drsctl.emulator.spapi.dispatch import _PayloadJSON
from drsctl.emulator.store import Store
from drsctl.emulator.store.schema import SCHEMA, SCHEMA_VERSION
from starlette.responses import JSONResponse

from host_tests.emulator.seller_world import ORDERS, US, World
from host_tests.emulator.spapi_schema import check_error, check_response
from host_tests.fake_tokens import ACCESS


@pytest.fixture
def shop(world: World):
    """A device of a new brand with one Unshipped order, and its seller."""
    world.refill()
    device = world.device()
    eid = world.replenish(device)
    world.advance(600)
    seller = world.seller(device["seller_id"])
    order = world.order(eid)
    return world, device, seller, eid, order


def item_id(world: World, seller, order_id: str) -> str:
    response = world.sp(seller.token, "GET", f"{ORDERS}/{order_id}/orderItems")
    return str(check_response("getOrderItems", response)["payload"]["OrderItems"][0]["OrderItemId"])


def confirm(world: World, seller, order_id: str, quantity: int = 2, ref: str = "1", **detail):
    package = {
        "packageReferenceId": ref,
        "carrierCode": "UPS",
        "carrierName": "UPS",
        "shippingMethod": "Ground",
        "trackingNumber": "1Z999AA10123456784",
        "shipDate": world.now_iso(),
        "orderItems": [{"orderItemId": item_id(world, seller, order_id), "quantity": quantity}],
        **detail,
    }
    return world.sp(
        seller.token,
        "POST",
        f"{ORDERS}/{order_id}/shipmentConfirmation",
        json={"marketplaceId": US, "packageDetail": package},
    )


def test_every_read_operation_answers_per_the_model(shop) -> None:
    world, device, seller, eid, order = shop
    oid = order["amazon_order_id"]
    listed = check_response("getOrders", world.get_orders(seller, CreatedAfter="2020-01-01"))
    assert [o["AmazonOrderId"] for o in listed["payload"]["Orders"]] == [oid]
    assert listed["payload"]["CreatedBefore"].endswith("Z")
    got = world.sp(seller.token, "GET", f"{ORDERS}/{oid}")
    assert got.headers["x-amzn-RateLimit-Limit"] == "0.5"
    assert got.headers["x-amzn-RequestId"]
    view = check_response("getOrder", got)["payload"]
    assert view["OrderStatus"] == "Unshipped"
    assert view["OrderTotal"] == {"CurrencyCode": "USD", "Amount": "39.98"}
    assert view["NumberOfItemsUnshipped"] == 2 and view["NumberOfItemsShipped"] == 0
    assert view["MarketplaceId"] == US and view["OrderChannel"] == "DashReplenishment"
    assert view["BuyerInfo"] == {}  # no RDT: no PII
    assert set(view["ShippingAddress"]) == {"City", "StateOrRegion", "PostalCode", "CountryCode"}
    items = check_response(
        "getOrderItems", world.sp(seller.token, "GET", f"{ORDERS}/{oid}/orderItems")
    )["payload"]
    assert items["AmazonOrderId"] == oid and "NextToken" not in items
    (item,) = items["OrderItems"]
    assert (item["ASIN"], item["QuantityOrdered"], item["QuantityShipped"]) == ("B00TONER01", 2, 0)
    assert item["OrderItemId"] == order["order_item_id"]
    assert item["ItemPrice"] == {"CurrencyCode": "USD", "Amount": "39.98"}
    for operation, suffix in (
        ("getOrderBuyerInfo", "/buyerInfo"),
        ("getOrderAddress", "/address"),
        ("getOrderItemsBuyerInfo", "/orderItems/buyerInfo"),
    ):
        body = check_response(operation, world.sp(seller.token, "GET", f"{ORDERS}/{oid}{suffix}"))
        assert body["payload"]["AmazonOrderId"] == oid
        assert "BuyerEmail" not in body["payload"] and "BuyerName" not in body["payload"]


def test_pending_orders_have_no_prices_and_no_address(world: World) -> None:
    world.refill()
    device = world.device(test_orders=True)
    eid = world.replenish(device)
    seller = world.seller(device["seller_id"])
    oid = world.order(eid)["amazon_order_id"]
    view = check_response("getOrder", world.sp(seller.token, "GET", f"{ORDERS}/{oid}"))["payload"]
    assert view["OrderStatus"] == "Pending"
    assert "OrderTotal" not in view and "ShippingAddress" not in view
    assert view["OrderChannel"] == "DashReplenishmentTest"  # test orders are flagged
    items = world.sp(seller.token, "GET", f"{ORDERS}/{oid}/orderItems")
    assert "ItemPrice" not in check_response("getOrderItems", items)["payload"]["OrderItems"][0]


def test_get_orders_filters(world: World) -> None:
    world.refill()
    device = world.device(slots=[{"id": f"s{i}"} for i in range(4)])
    eids = [world.replenish(device, f"s{i}") for i in range(4)]
    seller = world.seller(device["seller_id"])
    ids = [world.order(e)["amazon_order_id"] for e in eids]
    world.advance(600)  # all Unshipped
    world.advance(300)
    world.http.post(f"/_emulator/orders/{eids[0]}/cancel")  # one Canceled, 300 s later
    world.advance(200)

    def listed(**params) -> list[str]:
        world.refill()
        body = check_response("getOrders", world.get_orders(seller, **params))
        return [o["AmazonOrderId"] for o in body["payload"]["Orders"]]

    since = "2020-01-01T00:00:00Z"
    assert listed(CreatedAfter=since) == ids
    assert listed(CreatedAfter=since, OrderStatuses="Canceled") == ids[:1]
    assert listed(CreatedAfter=since, OrderStatuses="Unshipped,Pending") == ids[1:]
    assert listed(CreatedAfter=since, AmazonOrderIds=f"{ids[2]},{ids[3]}") == ids[2:]
    assert listed(CreatedAfter=since, SellerOrderId=ids[1]) == [ids[1]]
    assert listed(CreatedAfter=since, FulfillmentChannels="AFN") == []
    assert listed(CreatedAfter=since, FulfillmentChannels="MFN") == ids
    assert listed(CreatedAfter=since, PaymentMethods="COD") == []
    assert listed(CreatedAfter=since, EasyShipShipmentStatuses="PendingPickUp") == []
    assert listed(CreatedAfter=since, IsISPU="true") == []
    assert listed(CreatedAfter=since, MarketplaceIds="A1PA6795UKMFR9") == []
    rdt = world.rdt(seller, [{"method": "GET", "path": f"{ORDERS}/{ids[1]}",
                              "dataElements": ["buyerInfo"]}])  # fmt: skip
    email = world.sp(rdt, "GET", f"{ORDERS}/{ids[1]}").json()
    buyer_email = email["payload"]["BuyerInfo"]["BuyerEmail"]
    assert listed(CreatedAfter=since, BuyerEmail=buyer_email.upper()) == ids  # one customer
    assert listed(CreatedAfter=since, BuyerEmail="someone@else.example") == []
    # last-updated window: the canceled order changed 200 s ago, the others 500 s ago
    now = world.now()
    from datetime import UTC, datetime

    def iso(t: int) -> str:
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    assert listed(LastUpdatedAfter=iso(now - 200)) == ids[:1]
    assert listed(LastUpdatedAfter=iso(now - 1000), LastUpdatedBefore=iso(now - 250)) == ids[1:]
    body = check_response("getOrders", world.get_orders(seller, LastUpdatedAfter=iso(now - 1000)))
    assert body["payload"]["LastUpdatedBefore"] == iso(now)
    assert listed(CreatedAfter=iso(now + 10)) == []


@pytest.mark.parametrize(
    "params, fragment",
    [
        ({"MarketplaceIds": None, "CreatedAfter": "2020-01-01"}, "MarketplaceIds"),
        ({"MarketplaceIds": "NOPE", "CreatedAfter": "2020-01-01"}, "MarketplaceIds"),
        ({}, "Either CreatedAfter or LastUpdatedAfter"),
        ({"CreatedBefore": "2020-01-01"}, "Either CreatedAfter"),
        ({"CreatedAfter": "yesterday"}, "ISO 8601"),
        ({"CreatedAfter": "2020-13-45"}, "ISO 8601"),
        ({"LastUpdatedAfter": "2020-01-01T25:00:00Z"}, "ISO 8601"),
        ({"CreatedAfter": "2020-01-01", "LastUpdatedAfter": "2020-01-01"}, "combined"),
        ({"CreatedAfter": "2020-01-01", "LastUpdatedBefore": "2020-02-01"}, "combined"),
        ({"CreatedAfter": "2020-02-01", "CreatedBefore": "2020-01-01"}, "equal to or after"),
        ({"CreatedAfter": "2020-01-01", "CreatedBefore": "2999-01-01"}, "two minutes"),
        ({"CreatedAfter": "2020-01-01", "SellerOrderId": "X", "OrderStatuses": "Pending"},
         "SellerOrderId"),
        ({"CreatedAfter": "2020-01-01", "SellerOrderId": "X", "BuyerEmail": "a@b.c"},
         "SellerOrderId"),
        ({"CreatedAfter": "2020-01-01", "MaxResultsPerPage": "0"}, "MaxResultsPerPage"),
        ({"CreatedAfter": "2020-01-01", "MaxResultsPerPage": "101"}, "MaxResultsPerPage"),
        ({"CreatedAfter": "2020-01-01", "MaxResultsPerPage": "ten"}, "MaxResultsPerPage"),
        ({"CreatedAfter": "2020-01-01", "MaxResultsPerPage": "-5"}, "MaxResultsPerPage"),
        ({"CreatedAfter": "2020-01-01", "OrderStatuses": "Lost"}, "OrderStatuses"),
        ({"CreatedAfter": "2020-01-01", "OrderStatuses": "Pending,,Shipped"}, "empty"),
        ({"CreatedAfter": "2020-01-01", "FulfillmentChannels": "XYZ"}, "FulfillmentChannels"),
        ({"CreatedAfter": "2020-01-01", "PaymentMethods": "Cash"}, "PaymentMethods"),
        ({"CreatedAfter": "2020-01-01", "AmazonOrderIds": "12-34"}, "3-7-7"),
        ({"CreatedAfter": "2020-01-01",
          "AmazonOrderIds": ",".join(f"111-0000000-{i:07d}" for i in range(51))}, "at most 50"),
        ({"CreatedAfter": "2020-01-01",
          "MarketplaceIds": ",".join([US] * 51)}, "at most 50"),
        ({"CreatedAfter": "2020-01-01", "IsISPU": "maybe"}, "IsISPU"),
        ({"CreatedAfter": "2020-01-01", "EasyShipShipmentStatuses": "Sunk"}, "EasyShip"),
        ({"CreatedAfter": "2020-01-01", "LatestDeliveryDateBefore": "soon"}, "ISO 8601"),
        ({"NextToken": "not-a-token"}, "NextToken"),
    ],
)  # fmt: skip
def test_get_orders_parameter_rules(world: World, params, fragment) -> None:
    world.refill()
    seller = world.seller(world.device()["seller_id"])
    query = {"MarketplaceIds": US, **params}
    query = {k: v for k, v in query.items() if v is not None}
    response = world.sp(seller.token, "GET", ORDERS, params=query)
    assert fragment in check_error("getOrders", response, 400, "InvalidInput")


def test_repeated_filters_are_refused(shop) -> None:
    world, _, seller, _, _ = shop
    query = [("MarketplaceIds", US), ("CreatedAfter", "2020-01-01"), ("CreatedAfter", "2021-01-01")]
    response = world.sp(seller.token, "GET", ORDERS, params=query)
    assert "more than once" in check_error("getOrders", response, 400, "InvalidInput")
    # unknown parameters (python-amazon-sp-api adds a few) are ignored
    extra = [("MarketplaceIds", US), ("CreatedAfter", "2020-01-01"), ("marketplaceIds", US),
             ("MarketplaceId", US), ("marketplaceIds", US)]  # fmt: skip
    assert world.sp(seller.token, "GET", ORDERS, params=extra).status_code == 200


def test_paging_through_hundreds_of_orders(world: World) -> None:
    world.refill()
    device = world.device(slots=[{"id": f"s{i:03d}"} for i in range(250)])
    world.place_orders(device, 250)
    seller = world.seller(device["seller_id"])
    other = world.seller(world.device()["seller_id"])
    world.advance(300)
    seen: list[str] = []
    response = world.get_orders(seller, CreatedAfter="2020-01-01", MaxResultsPerPage="100")
    pages = 0
    while True:
        body = check_response("getOrders", response)["payload"]
        pages += 1
        seen += [o["AmazonOrderId"] for o in body["Orders"]]
        token = body.get("NextToken")
        if not token:
            break
        # another seller cannot use the token
        assert other.token != seller.token
        stolen = world.sp(other.token, "GET", ORDERS, params={"MarketplaceIds": US,
                                                              "NextToken": token})  # fmt: skip
        check_error("getOrders", stolen, 400, "InvalidInput")
        # NextToken replaces the criteria (repeatable: a retry after a 429 gets the same page)
        response = world.get_orders(seller, NextToken=token)
        again = world.get_orders(seller, NextToken=token)
        assert again.json() == response.json() | {"payload": again.json()["payload"]}
    assert pages == 3 and len(seen) == 250 and len(set(seen)) == 250
    # the default page size is 100
    first = world.get_orders(seller, CreatedAfter="2020-01-01")
    assert len(first.json()["payload"]["Orders"]) == 100


def test_order_items_next_token(shop, monkeypatch) -> None:
    world, _, seller, _, order = shop
    from drsctl.emulator.spapi import handlers

    monkeypatch.setattr(handlers, "ITEMS_PAGE_SIZE", 1)
    oid = order["amazon_order_id"]
    bad = world.sp(seller.token, "GET", f"{ORDERS}/{oid}/orderItems", params={"NextToken": "x"})
    check_error("getOrderItems", bad, 400, "InvalidInput")
    bad = world.sp(
        seller.token, "GET", f"{ORDERS}/{oid}/orderItems/buyerInfo", params={"NextToken": "x"}
    )
    check_error("getOrderItemsBuyerInfo", bad, 400, "InvalidInput")


def test_rate_limits_follow_the_usage_plans(shop) -> None:
    world, _, seller, _, order = shop
    oid = order["amazon_order_id"]
    path = f"{ORDERS}/{oid}"
    for _ in range(30):  # getOrder: burst 30
        ok = world.sp(seller.token, "GET", path)
        assert ok.status_code == 200 and ok.headers["x-amzn-RateLimit-Limit"] == "0.5"
    throttled = world.sp(seller.token, "GET", path)
    check_error("getOrder", throttled, 429, "QuotaExceeded")
    assert "x-amzn-RateLimit-Limit" not in throttled.headers  # as the model declares
    # another operation and another seller have their own buckets
    assert world.sp(seller.token, "GET", f"{path}/orderItems").status_code == 200
    other = world.seller(world.device()["seller_id"])
    assert world.sp(other.token, "GET", path).status_code == 404
    # 0.5 per second of virtual time: 2 s buys one more request
    world.advance(2)
    world.renew(seller)
    assert world.sp(seller.token, "GET", path).status_code == 200
    assert world.sp(seller.token, "GET", path).status_code == 429
    # getOrders: burst 20, one more per minute
    for _ in range(20):
        assert world.get_orders(seller, CreatedAfter="2020-01-01").status_code == 200
    check_error("getOrders", world.get_orders(seller, CreatedAfter="2020-01-01"), 429,
                "QuotaExceeded")  # fmt: skip
    world.advance(60)
    world.renew(seller)
    assert world.get_orders(seller, CreatedAfter="2020-01-01").status_code == 200
    assert world.get_orders(seller, CreatedAfter="2020-01-01").status_code == 429
    # bad requests count too, and the control API can switch throttling off
    state = world.http.get("/_emulator/rate-limits").json()
    assert state["enabled"] is True
    assert any(b["key"].endswith(":getOrders") for b in state["buckets"])
    switched = world.http.post("/_emulator/rate-limits", json={"enabled": False})
    assert switched.json()["enabled"] is False
    try:
        for _ in range(5):
            assert world.get_orders(seller, CreatedAfter="2020-01-01").status_code == 200
    finally:
        world.http.post("/_emulator/rate-limits", json={"enabled": True})
    assert world.http.post("/_emulator/rate-limits", json={"enabled": "no"}).status_code == 400


def test_access_token_checks(shop) -> None:
    world, device, seller, _, order = shop
    path = f"{ORDERS}/{order['amazon_order_id']}"
    check_error("getOrder", world.sp(None, "GET", path), 403, "Unauthorized")
    check_error("getOrder", world.sp(f"{ACCESS}garbage", "GET", path), 403, "Unauthorized")
    # a device's DRS token is not a seller's token
    check_error("getOrder", world.sp(device["access_token"], "GET", path), 403, "Unauthorized")
    # a grantless (client_credentials) token is not enough for Orders
    lwa = seller.info["lwa"]
    grantless = world.http.post("/auth/o2/token", data={
        "grant_type": "client_credentials", "scope": "sellingpartnerapi::notifications",
        "client_id": lwa["client_id"], "client_secret": lwa["client_secret"]}).json()  # fmt: skip
    assert "refresh_token" not in grantless
    check_error("getOrder", world.sp(grantless["access_token"], "GET", path), 403, "Unauthorized")
    # a seller token does not work for DRS either
    drs = world.http.get(f"/getOrderInfo/{order['event_instance_id']}", headers={
        "Authorization": f"Bearer {seller.token}",
        "x-amzn-type-version": "com.amazon.dash.replenishment.DrsOrderInfoInput@1.0",
        "x-amzn-accept-type": "com.amazon.dash.replenishment.DrsOrderInfoResult@1.0"})  # fmt: skip
    assert drs.status_code == 400 and drs.json() == {"message": "Invalid token"}
    # tokens expire after an hour of virtual time
    world.advance(3600)
    expired = world.sp(seller.token, "GET", path)
    message = check_error("getOrder", expired, 403, "Unauthorized")
    # Amazon's 403: a fixed message, the reason in details
    assert message == "Access to requested resource is denied."
    assert "expired" in expired.json()["errors"][0]["details"]
    assert seller.token not in expired.text
    world.renew(seller)
    assert world.sp(seller.token, "GET", path).status_code == 200
    # a wrong client secret is LwA's invalid_client
    bad = world.http.post("/auth/o2/token", data={
        "grant_type": "refresh_token", "refresh_token": lwa["refresh_token"],
        "client_id": lwa["client_id"], "client_secret": "nope"})  # fmt: skip
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    assert "nope" not in bad.text


def test_sellers_never_see_each_other(shop) -> None:
    world, _, seller, eid, order = shop
    oid = order["amazon_order_id"]
    intruder = world.seller(world.device()["seller_id"], name="Rival")
    listed = world.get_orders(intruder, CreatedAfter="2020-01-01")
    assert check_response("getOrders", listed)["payload"]["Orders"] == []
    for operation, method, suffix in (
        ("getOrder", "GET", ""),
        ("getOrderBuyerInfo", "GET", "/buyerInfo"),
        ("getOrderAddress", "GET", "/address"),
        ("getOrderItems", "GET", "/orderItems"),
        ("getOrderItemsBuyerInfo", "GET", "/orderItems/buyerInfo"),
        ("getOrderRegulatedInfo", "GET", "/regulatedInfo"),
    ):
        response = world.sp(intruder.token, method, f"{ORDERS}/{oid}{suffix}")
        check_error(operation, response, 404, "NotFound")
    stolen = confirm(world, seller, oid)  # item id looked up as the owner
    assert stolen.status_code == 204
    hijack = world.sp(intruder.token, "POST", f"{ORDERS}/{oid}/shipmentConfirmation",
                      json={"marketplaceId": US, "packageDetail": {}})  # fmt: skip
    check_error("confirmShipment", hijack, 404, "NotFound")
    rdt = world.rdt(intruder, [{"method": "GET", "path": f"{ORDERS}/{oid}",
                                "dataElements": ["buyerInfo", "shippingAddress"]}])  # fmt: skip
    check_error("getOrder", world.sp(rdt, "GET", f"{ORDERS}/{oid}"), 404, "NotFound")
    sellers = world.http.get("/_emulator/sellers").json()["sellers"]
    assert {"seller_id", "name", "marketplace_id"} == set(sellers[0])


def test_confirm_shipment_lifecycle_and_edits(shop) -> None:
    world, device, seller, eid, order = shop
    oid = order["amazon_order_id"]
    # partial shipment first: one of two units
    assert confirm(world, seller, oid, quantity=1, ref="101").status_code == 204
    view = world.sp(seller.token, "GET", f"{ORDERS}/{oid}").json()["payload"]
    assert view["OrderStatus"] == "PartiallyShipped"
    assert (view["NumberOfItemsShipped"], view["NumberOfItemsUnshipped"]) == (1, 1)
    assert world.drs_status(device, eid) == "Authorized"
    # more than ordered is refused; an edit must keep item and quantity
    check_error("confirmShipment", confirm(world, seller, oid, quantity=2, ref="102"), 400,
                "InvalidInput")  # fmt: skip
    check_error("confirmShipment", confirm(world, seller, oid, quantity=2, ref="101"), 400,
                "InvalidInput")  # fmt: skip
    # editing package 101 (new carrier and tracking number) is fine
    edited = confirm(world, seller, oid, quantity=1, ref="101", carrierCode="USPS",
                     trackingNumber="9400100000000000000000")  # fmt: skip
    assert check_response("confirmShipment", edited) is None and edited.status_code == 204
    # the second package ships the rest
    assert confirm(world, seller, oid, quantity=1, ref="102").status_code == 204
    assert world.order(eid)["status"] == "Shipped"
    items = world.sp(seller.token, "GET", f"{ORDERS}/{oid}/orderItems").json()["payload"]
    assert items["OrderItems"][0]["QuantityShipped"] == 2
    # edits of a shipped order are still allowed
    assert confirm(world, seller, oid, quantity=1, ref="102", carrierCode="DHL").status_code == 204
    assert world.drs_status(device, eid) == "Authorized"
    world.advance(2 * 86400)
    assert world.drs_status(device, eid) == "Closed"
    world.renew(seller)
    assert world.sp(seller.token, "GET", f"{ORDERS}/{oid}").json()["payload"]["OrderStatus"] == (
        "Shipped"
    )


def test_confirm_shipment_refusals(world: World) -> None:
    world.refill()
    device = world.device(slots=[{"id": "a"}, {"id": "b"}])
    seller = world.seller(device["seller_id"])
    pending_eid = world.replenish(device, "a")
    pending = world.order(pending_eid)["amazon_order_id"]
    message = check_error("confirmShipment", confirm(world, seller, pending, quantity=1), 400,
                          "InvalidInput")  # fmt: skip
    assert "Pending" in message
    canceled_eid = world.replenish(device, "b")
    world.http.post(f"/_emulator/orders/{canceled_eid}/cancel")
    canceled = world.order(canceled_eid)["amazon_order_id"]
    check_error("confirmShipment", confirm(world, seller, canceled, quantity=1), 400,
                "InvalidInput")  # fmt: skip
    world.advance(600)
    url = f"{ORDERS}/{pending}/shipmentConfirmation"
    good_item = {"orderItemId": world.order(pending_eid)["order_item_id"], "quantity": 1}
    base = {"packageReferenceId": "1", "carrierCode": "UPS", "trackingNumber": "T",
            "shipDate": world.now_iso(), "orderItems": [good_item]}  # fmt: skip
    bad_bodies = [
        {"packageDetail": base},  # no marketplaceId
        {"marketplaceId": "A1PA6795UKMFR9", "packageDetail": base},
        {"marketplaceId": US},
        {"marketplaceId": US, "packageDetail": {**base, "shipDate": "02/21/2022"}},
        {"marketplaceId": US, "packageDetail": {**base, "shipDate": "2022-02-21"}},
        {"marketplaceId": US, "packageDetail": {**base, "packageReferenceId": "abc"}},
        {"marketplaceId": US, "packageDetail": {**base, "packageReferenceId": 7}},
        {"marketplaceId": US, "packageDetail": {**base, "carrierCode": ""}},
        {"marketplaceId": US, "packageDetail": {**base, "trackingNumber": None}},
        {"marketplaceId": US, "packageDetail": {**base, "orderItems": []}},
        {"marketplaceId": US, "packageDetail": {**base, "orderItems": [
            {"orderItemId": "00000000000000", "quantity": 1}]}},
        {"marketplaceId": US, "packageDetail": {**base, "orderItems": [
            {**good_item, "quantity": 0}]}},
        {"marketplaceId": US, "packageDetail": {**base, "orderItems": [
            {**good_item, "quantity": True}]}},
        {"marketplaceId": US, "codCollectionMethod": "Cash", "packageDetail": base},
        [],
    ]  # fmt: skip
    for body in bad_bodies:
        world.refill()  # confirmShipment's burst is 10
        response = world.sp(seller.token, "POST", url, json=body)
        check_error("confirmShipment", response, 400, "InvalidInput")
    for raw in (b"{not json", b"\xff\xfe", b""):
        world.refill()
        response = world.sp(seller.token, "POST", url, content=raw,
                            headers={"content-type": "application/json"})  # fmt: skip
        check_error("confirmShipment", response, 400, "InvalidInput")
    huge = world.sp(seller.token, "POST", url, content=b"x" * (70 * 1024),
                    headers={"content-type": "application/json"})  # fmt: skip
    assert huge.status_code == 413
    assert huge.json()["errors"][0]["code"] == "RequestEntityTooLarge"
    unknown = world.sp(seller.token, "POST", f"{ORDERS}/999-0000000-0000000/shipmentConfirmation",
                       json={"marketplaceId": US, "packageDetail": base})  # fmt: skip
    check_error("confirmShipment", unknown, 404, "NotFound")
    malformed = world.sp(seller.token, "GET", f"{ORDERS}/not-an-order")
    check_error("getOrder", malformed, 400, "InvalidInput")
    # no package given an id: Amazon assigns one
    auto = {"marketplaceId": US, "packageDetail": {**base, "packageReferenceId": ""}}
    assert world.sp(seller.token, "POST", url, json=auto).status_code == 204
    assert world.order(pending_eid)["status"] == "Shipped"  # quantity 1 slot


def test_update_shipment_status(shop) -> None:
    world, device, seller, eid, order = shop
    oid = order["amazon_order_id"]
    url = f"{ORDERS}/{oid}/shipment"
    for body in ({"marketplaceId": US, "shipmentStatus": "Lost"},
                 {"shipmentStatus": "PickedUp"},
                 {"marketplaceId": US, "shipmentStatus": "PickedUp",
                  "orderItems": [{"orderItemId": "1", "quantity": 1}]}):  # fmt: skip
        check_error("updateShipmentStatus", world.sp(seller.token, "POST", url, json=body), 400,
                    "InvalidInput")  # fmt: skip
    as_text = world.sp(seller.token, "POST", url, content=b"{}",
                       headers={"content-type": "text/plain"})  # fmt: skip
    check_error("updateShipmentStatus", as_text, 415, "UnsupportedMediaType")
    ready = world.sp(seller.token, "POST", url,
                     json={"marketplaceId": US, "shipmentStatus": "ReadyForPickup"})  # fmt: skip
    assert check_response("updateShipmentStatus", ready) is None and ready.status_code == 204
    assert world.order(eid)["status"] == "Unshipped"
    picked = world.sp(seller.token, "POST", url,
                      json={"marketplaceId": US, "shipmentStatus": "PickedUp"})  # fmt: skip
    assert picked.status_code == 204
    assert world.order(eid)["status"] == "Shipped"
    with world.emulator.store.tx() as tx:
        record = tx.order_by_amazon_id(oid)
        assert record is not None
        assert [e["status"] for e in tx.shipment_events(int(record.order_id or 0))] == [
            "ReadyForPickup", "PickedUp"]  # fmt: skip


def test_regulated_orders(world: World) -> None:
    world.refill()
    device = world.device(slots=[{"id": "meds", "regulated": True, "quantity": 1},
                                 {"id": "food", "regulated": False}])  # fmt: skip
    seller = world.seller(device["seller_id"])
    plain = world.order(world.replenish(device, "food"))["amazon_order_id"]
    check_error("getOrderRegulatedInfo",
                world.sp(seller.token, "GET", f"{ORDERS}/{plain}/regulatedInfo"), 400,
                "InvalidInput")  # fmt: skip
    eid = world.replenish(device, "meds")
    oid = world.order(eid)["amazon_order_id"]
    world.advance(600)
    url = f"{ORDERS}/{oid}/regulatedInfo"
    info = check_response("getOrderRegulatedInfo", world.sp(seller.token, "GET", url))["payload"]
    assert info["RegulatedInformation"]["Fields"] == []  # PII: needs an RDT
    assert info["RegulatedOrderVerificationStatus"]["Status"] == "Pending"
    assert info["RegulatedOrderVerificationStatus"]["RequiresMerchantAction"] is True
    rdt = world.rdt(seller, [{"method": "GET", "path": f"{ORDERS}/{{orderId}}/regulatedInfo"}])
    fields = check_response("getOrderRegulatedInfo", world.sp(rdt, "GET", url))["payload"]
    assert fields["RegulatedInformation"]["Fields"]
    # not approved yet: no shipping
    check_error("confirmShipment", confirm(world, seller, oid, quantity=1), 400, "InvalidInput")
    rejected_without_reason = {"regulatedOrderVerificationStatus": {"status": "Rejected"}}
    problems = world.sp(seller.token, "PATCH", url, json=rejected_without_reason)
    body = check_response("updateVerificationStatus", problems)
    assert problems.status_code == 400 and len(body["errors"]) == 2
    for update in (
        {"status": "Cancelled", "externalReviewerId": "r1"},
        {"status": "Rejected", "externalReviewerId": "r1", "rejectionReasonId": "x"},
    ):
        check_error("updateVerificationStatus",
                    world.sp(seller.token, "PATCH", url,
                             json={"regulatedOrderVerificationStatus": update}), 400,
                    "InvalidInput")  # fmt: skip
    check_error("updateVerificationStatus", world.sp(seller.token, "PATCH", url, json=[]), 400,
                "InvalidInput")  # fmt: skip
    approve = {"regulatedOrderVerificationStatus": {"status": "Approved",
                                                    "externalReviewerId": "vet-1"}}  # fmt: skip
    done = world.sp(seller.token, "PATCH", url, json=approve)
    assert check_response("updateVerificationStatus", done) is None
    again = world.sp(seller.token, "PATCH", url, json=approve)
    check_error("updateVerificationStatus", again, 400, "InvalidInput")
    payload = world.sp(seller.token, "GET", url).json()["payload"]
    status = payload["RegulatedOrderVerificationStatus"]
    assert (status["Status"], status["ExternalReviewerId"]) == ("Approved", "vet-1")
    assert confirm(world, seller, oid, quantity=1).status_code == 204
    # a rejection cancels the order everywhere
    world.advance(3 * 86400)
    reject_eid = world.replenish(device, "meds")
    reject_oid = world.order(reject_eid)["amazon_order_id"]
    world.renew(seller)
    rejected = world.sp(seller.token, "PATCH", f"{ORDERS}/{reject_oid}/regulatedInfo", json={
        "regulatedOrderVerificationStatus": {
            "status": "Rejected", "externalReviewerId": "vet-1",
            "rejectionReasonId": "shield_pom_vps_reject_age"}})  # fmt: skip
    assert rejected.status_code == 204
    assert world.drs_status(device, reject_eid) == "Canceled"
    view = world.sp(seller.token, "GET", f"{ORDERS}/{reject_oid}/regulatedInfo").json()["payload"]
    assert view["RegulatedOrderVerificationStatus"]["RejectionReason"]["RejectionReasonId"] == (
        "shield_pom_vps_reject_age"
    )


def test_unknown_paths_and_methods_answer_sp_api_errors(shop) -> None:
    world, _, seller, _, order = shop
    missing = world.sp(seller.token, "GET", "/orders/v0/nothing")
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "NotFound"
    wrong = world.sp(seller.token, "DELETE", ORDERS)
    assert wrong.status_code == 405 and wrong.json()["errors"][0]["message"]
    assert wrong.headers["x-amzn-RequestId"]


def test_version_1_database_is_upgraded(tmp_path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA + "INSERT INTO clock (id, now) VALUES (1, 100);"
                       "PRAGMA user_version = 1;")  # fmt: skip
    conn.close()
    store = Store(path)
    try:
        with store.tx() as tx:
            assert tx.sellers() == [] and tx.now() == 100
    finally:
        store.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_confirm_shipment_refuses_a_ship_date_before_the_purchase(world: World) -> None:
    world.refill()
    device = world.device()
    seller = world.seller(device["seller_id"])
    order = world.order(world.replenish(device, "toner"))
    world.advance(600)
    oid = order["amazon_order_id"]
    purchased = order["created_at"]
    early = datetime.fromtimestamp(purchased - 1, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    refused = confirm(world, seller, oid, shipDate=early)
    message = check_error("confirmShipment", refused, 400, "InvalidInput")
    assert "shipDate" in message and "PurchaseDate" in message
    assert world.order(order["event_instance_id"])["status"] == "Unshipped"  # nothing happened
    on_time = datetime.fromtimestamp(purchased, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert confirm(world, seller, oid, shipDate=on_time).status_code == 204


def test_payloads_encode_byte_for_byte_like_starlette() -> None:
    """The faster encoder keeps Starlette's bytes: compact, UTF-8 (not \\u escapes), NaN refused."""
    payload = {"payload": {"Orders": [{"Name": "Zoë Müller", "IsPrime": False, "N": [1, 2]}]}}
    assert _PayloadJSON(payload).body == JSONResponse(payload).body
    with pytest.raises(ValueError):
        _PayloadJSON({"Amount": float("nan")})


def test_a_request_the_handler_refuses_still_counts(shop) -> None:
    """The handler runs in a savepoint of the call's transaction: its 400 keeps the take."""
    world, device, seller, eid, order = shop

    def level() -> float:
        buckets = world.http.get("/_emulator/rate-limits").json()["buckets"]
        return next(b["tokens"] for b in buckets
                    if b["key"].startswith(f"spapi:{seller.seller_id}:")
                    and b["key"].endswith(":getOrders"))  # fmt: skip

    assert world.get_orders(seller, CreatedAfter="2020-01-01").status_code == 200
    before = level()
    check_error("getOrders", world.get_orders(seller), 400, "InvalidInput")  # no CreatedAfter
    assert level() == before - 1
