"""MWS Orders GetOrder: Signature Version 2, timestamps, throttling, XML; and one order
seen consistently by the device (DRS), the SP-API and MWS through its whole lifecycle."""

import pytest

from host_tests.emulator.seller_world import (
    ORDERS,
    World,
    mws_error,
    mws_orders,
    text,
    wall_iso,
)


@pytest.fixture
def shop(world: World):
    world.refill()
    device = world.device(slots=[{"id": "a", "quantity": 2}, {"id": "b"}])
    eid = world.replenish(device, "a")
    seller = world.seller(device["seller_id"])
    return world, device, seller, eid, world.order(eid)["amazon_order_id"]


def test_get_order_xml_and_availability_table(shop) -> None:
    world, device, seller, eid, oid = shop
    response = world.mws(seller, [oid])
    assert response.headers["content-type"].startswith("text/xml")
    assert response.headers["x-mws-request-id"] and response.headers["x-mws-quota-max"] == "6"
    (order,) = mws_orders(response)
    assert text(order, "AmazonOrderId") == oid and text(order, "OrderStatus") == "Pending"
    assert text(order, "FulfillmentChannel") == "MFN"
    assert text(order, "MarketplaceId") == "ATVPDKIKX0DER"
    # Pending: no buyer contact or charge data (seed 004, table 1)
    for name in ("BuyerEmail", "BuyerName", "ShippingAddress", "OrderTotal"):
        assert order.find(f"{{https://mws.amazonservices.com/Orders/2013-09-01}}{name}") is None
    world.advance(600)
    (order,) = mws_orders(world.mws(seller, [oid], method="GET"))
    assert text(order, "OrderStatus") == "Unshipped"
    assert text(order, "BuyerName") == "Test Customer"
    assert text(order, "BuyerEmail").endswith("@marketplace.amazon.com")
    assert text(order, "NumberOfItemsUnshipped") == "2"
    ns = "{https://mws.amazonservices.com/Orders/2013-09-01}"
    assert order.find(f"{ns}OrderTotal/{ns}Amount").text == "39.98"
    assert order.find(f"{ns}ShippingAddress/{ns}AddressLine1").text


def test_many_ids_unknown_and_foreign_ones_are_left_out(shop) -> None:
    world, device, seller, eid, oid = shop
    other_device = world.device()
    foreign = world.order(world.replenish(other_device))["amazon_order_id"]
    ids = [oid, foreign] + [f"111-0000000-{i:07d}" for i in range(48)]
    found = mws_orders(world.mws(seller, ids))
    assert [text(o, "AmazonOrderId") for o in found] == [oid]
    too_many = world.mws(seller, ids + ["111-0000001-0000000"])
    assert "50" in mws_error(too_many, 400, "InvalidParameterValue")
    mws_error(world.mws(seller, []), 400, "MissingParameter")
    mws_error(world.mws(seller, ["12-34"]), 400, "InvalidParameterValue")


def test_signature_failures(shop) -> None:
    world, device, seller, eid, oid = shop
    wrong_key = "A" * 40
    mws_error(world.mws(seller, [oid], secret=wrong_key), 403, "SignatureDoesNotMatch")
    mws_error(world.mws(seller, [oid], host="mws.amazonservices.com"), 403,
              "SignatureDoesNotMatch")  # fmt: skip
    mws_error(world.mws(seller, [oid], method="GET", host="localhost:1"), 403,
              "SignatureDoesNotMatch")  # fmt: skip
    tampered = world.mws(seller, [oid], extra={"Signature": "AAAA"})
    assert tampered.status_code == 400  # given twice (signed one + ours)
    unknown_key = world.mws(seller, [oid], extra={"AWSAccessKeyId": "AKIAUNKNOWN000000000"})
    mws_error(unknown_key, 403, "InvalidAccessKeyId")
    other = world.seller(world.device()["seller_id"])
    wrong_seller = world.mws(seller, [oid], extra={"SellerId": other.seller_id})
    mws_error(wrong_seller, 401, "AccessDenied")
    wrong_token = world.mws(seller, [oid], extra={"MWSAuthToken": "amzn.mws.nope"})
    mws_error(wrong_token, 401, "AccessDenied")
    no_token = world.mws(seller, [oid], drop=("MWSAuthToken",))
    assert no_token.status_code == 200
    for name in ("AWSAccessKeyId", "SellerId", "Version", "Action", "SignatureVersion"):
        mws_error(world.mws(seller, [oid], drop=(name,)), 400, "MissingParameter")
    mws_error(world.mws(seller, [oid], extra={"SignatureVersion": "1"}), 400,
              "InvalidParameterValue")  # fmt: skip
    mws_error(world.mws(seller, [oid], extra={"SignatureMethod": "HmacMD5"}), 400,
              "InvalidParameterValue")  # fmt: skip
    secret = seller.info["mws"]["secret_key"]
    assert secret not in world.mws(seller, [oid], secret=wrong_key).text


def test_timestamps(shop) -> None:
    world, device, seller, eid, oid = shop
    mws_error(world.mws(seller, [oid], timestamp=wall_iso(-3600)), 400, "RequestExpired")
    mws_error(world.mws(seller, [oid], timestamp=wall_iso(+3600)), 400, "RequestExpired")
    mws_error(world.mws(seller, [oid], timestamp="yesterday"), 400, "InvalidParameterValue")
    assert world.mws(seller, [oid], timestamp=wall_iso(-600)).status_code == 200
    expires = world.mws(seller, [oid], drop=("Timestamp",), extra={"Expires": wall_iso(300)})
    assert expires.status_code == 200
    expired = world.mws(seller, [oid], drop=("Timestamp",), extra={"Expires": wall_iso(-300)})
    mws_error(expired, 400, "RequestExpired")
    mws_error(world.mws(seller, [oid], drop=("Timestamp",)), 400, "MissingParameter")
    # the virtual clock counts too (a client living in simulated time)
    world.advance(86400)
    now = world.now()
    from datetime import UTC, datetime

    virtual = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert world.mws(seller, [oid], timestamp=virtual).status_code == 200


def test_throttling_quota_six_restore_one_per_minute(shop) -> None:
    world, device, seller, eid, oid = shop
    for remaining in range(5, -1, -1):
        response = world.mws(seller, [oid])
        assert response.status_code == 200
        assert response.headers["x-mws-quota-remaining"] == str(remaining)
    throttled = world.mws(seller, [oid])
    assert mws_error(throttled, 503, "RequestThrottled") == "Request is throttled"
    world.advance(59)
    mws_error(world.mws(seller, [oid]), 503, "RequestThrottled")
    world.advance(1)
    assert world.mws(seller, [oid]).status_code == 200
    mws_error(world.mws(seller, [oid]), 503, "RequestThrottled")


def test_bad_requests(shop) -> None:
    world, device, seller, eid, oid = shop
    mws_error(world.mws(seller, [oid], extra={"Action": "ListOrders"}), 400,
              "InvalidParameterValue")  # fmt: skip
    mws_error(world.mws(seller, [oid], extra={"Version": "2011-01-01"}), 400,
              "InvalidParameterValue")  # fmt: skip
    garbage = world.http.post(
        "/Orders/2013-09-01",
        content=b"\xff\xfe=\x00",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert garbage.status_code == 400 and "<ErrorResponse" in garbage.text
    json_body = world.http.post("/Orders/2013-09-01", json={"Action": "GetOrder"})
    mws_error(json_body, 400, "InvalidParameterValue")
    huge = world.http.post(
        "/Orders/2013-09-01",
        content=b"a=" + b"x" * 70000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert huge.status_code == 413 and "<ErrorResponse" in huge.text
    wrong_method = world.http.delete("/Orders/2013-09-01")
    assert wrong_method.status_code == 405 and "<ErrorResponse" in wrong_method.text


def test_one_order_three_views(shop) -> None:
    """Pending → Unshipped → Shipped (seller) → delivered; and a customer cancel."""
    world, device, seller, eid, oid = shop

    def views() -> tuple[str, str, str]:
        world.renew(seller)
        world.refill()
        sp = world.sp(seller.token, "GET", f"{ORDERS}/{oid}").json()["payload"]["OrderStatus"]
        (mws,) = mws_orders(world.mws(seller, [oid]))
        return world.drs_status(device, eid), sp, str(text(mws, "OrderStatus"))

    assert views() == ("Pending", "Pending", "Pending")
    world.advance(600)
    assert views() == ("Authorized", "Unshipped", "Unshipped")
    item = world.order(eid)["order_item_id"]
    confirmed = world.sp(seller.token, "POST", f"{ORDERS}/{oid}/shipmentConfirmation", json={
        "marketplaceId": "ATVPDKIKX0DER",
        "packageDetail": {"packageReferenceId": "1", "carrierCode": "UPS",
                          "trackingNumber": "1Z", "shipDate": world.now_iso(),
                          "orderItems": [{"orderItemId": item, "quantity": 2}]}})  # fmt: skip
    assert confirmed.status_code == 204
    assert views() == ("Authorized", "Shipped", "Shipped")
    world.advance(2 * 86400)
    assert views() == ("Closed", "Shipped", "Shipped")
    assert world.order(eid)["delivered_at"] is not None
    # a customer cancel shows everywhere
    eid_b = world.replenish(device, "b")
    oid_b = world.order(eid_b)["amazon_order_id"]
    assert world.http.post(f"/_emulator/orders/{eid_b}/cancel").status_code == 200
    world.renew(seller)
    assert world.drs_status(device, eid_b) == "Canceled"
    sp = world.sp(seller.token, "GET", f"{ORDERS}/{oid_b}").json()["payload"]
    assert sp["OrderStatus"] == "Canceled" and "ShippingAddress" not in sp
    (mws,) = mws_orders(world.mws(seller, [oid_b]))
    assert text(mws, "OrderStatus") == "Canceled"
    items = world.sp(seller.token, "GET", f"{ORDERS}/{oid_b}/orderItems").json()["payload"]
    assert items["OrderItems"][0]["BuyerRequestedCancel"]["IsBuyerRequestedCancel"] == "true"
    # and nothing can ship it any more
    world.advance(3 * 86400)
    assert world.order(eid_b)["status"] == "Canceled"
