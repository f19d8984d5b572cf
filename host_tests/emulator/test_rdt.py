"""Restricted data tokens: PII only with an RDT that covers the path and the data element."""

import pytest

from host_tests.emulator.seller_world import ORDERS, World
from host_tests.emulator.spapi_schema import check_error, check_response, validate

RDT_PATH = "/tokens/2021-03-01/restrictedDataToken"


@pytest.fixture
def shop(world: World):
    world.refill()
    device = world.device(slots=[{"id": "a"}, {"id": "b"}])
    eid_a = world.replenish(device, "a")
    eid_b = world.replenish(device, "b")
    world.advance(600)  # Unshipped: buyer data exists
    seller = world.seller(device["seller_id"])
    return (
        world,
        seller,
        world.order(eid_a)["amazon_order_id"],
        world.order(eid_b)["amazon_order_id"],
    )


def test_create_rdt_answer_shape(shop) -> None:
    world, seller, oid, _ = shop
    response = world.sp(seller.token, "POST", RDT_PATH, json={
        "restrictedResources": [{"method": "GET", "path": f"{ORDERS}/{oid}",
                                 "dataElements": ["buyerInfo"]}]})  # fmt: skip
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"restrictedDataToken", "expiresIn"} and body["expiresIn"] == 3600
    assert body["restrictedDataToken"].startswith("Atz.sprdt|")
    assert response.headers["x-amzn-RateLimit-Limit"] == "1.0"


def test_get_order_pii_per_data_element(shop) -> None:
    world, seller, oid, other = shop
    buyer_only = world.rdt(seller, [{"method": "GET", "path": f"{ORDERS}/{oid}",
                                     "dataElements": ["buyerInfo"]}])  # fmt: skip
    view = check_response("getOrder", world.sp(buyer_only, "GET", f"{ORDERS}/{oid}"))["payload"]
    assert set(view["BuyerInfo"]) == {"BuyerEmail", "BuyerName"}
    assert view["BuyerInfo"]["BuyerEmail"].endswith("@marketplace.amazon.com")
    assert "Name" not in view["ShippingAddress"] and "AddressLine1" not in view["ShippingAddress"]
    # a specific path covers that order only
    check_error("getOrder", world.sp(buyer_only, "GET", f"{ORDERS}/{other}"), 403, "Unauthorized")
    both = world.rdt(seller, [{"method": "GET", "path": f"{ORDERS}/{{orderId}}",
                               "dataElements": ["buyerInfo", "shippingAddress"]}])  # fmt: skip
    for order_id in (oid, other):
        full = check_response("getOrder", world.sp(both, "GET", f"{ORDERS}/{order_id}"))
        address = full["payload"]["ShippingAddress"]
        assert {"Name", "AddressLine1", "City", "PostalCode"} <= set(address)
        validate("Address", address)
    # the same buyer everywhere (made up from the customer record, deterministically)
    again = world.sp(both, "GET", f"{ORDERS}/{oid}").json()["payload"]
    assert (
        again["ShippingAddress"]
        == world.sp(both, "GET", f"{ORDERS}/{oid}").json()["payload"]["ShippingAddress"]
    )
    # an RDT is no key to other operations
    check_error("getOrderItems", world.sp(both, "GET", f"{ORDERS}/{oid}/orderItems"), 403,
                "Unauthorized")  # fmt: skip
    denied = world.sp(both, "POST", f"{ORDERS}/{oid}/shipmentConfirmation", json={})
    check_error("confirmShipment", denied, 403, "Unauthorized")
    nested = world.sp(both, "POST", RDT_PATH, json={"restrictedResources": [
        {"method": "GET", "path": f"{ORDERS}/{oid}", "dataElements": ["buyerInfo"]}]})  # fmt: skip
    assert nested.status_code == 403


def test_get_orders_with_rdt(shop) -> None:
    world, seller, oid, other = shop
    plain = check_response("getOrders", world.get_orders(seller, CreatedAfter="2020-01-01"))
    assert all(o["BuyerInfo"] == {} for o in plain["payload"]["Orders"])
    token = world.rdt(seller, [{"method": "GET", "path": ORDERS,
                                "dataElements": ["buyerInfo", "shippingAddress"]}])  # fmt: skip
    response = world.sp(token, "GET", ORDERS, params={"MarketplaceIds": "ATVPDKIKX0DER",
                                                      "CreatedAfter": "2020-01-01"})  # fmt: skip
    orders = check_response("getOrders", response)["payload"]["Orders"]
    assert {o["AmazonOrderId"] for o in orders} == {oid, other}
    assert all(o["BuyerInfo"]["BuyerName"] and o["ShippingAddress"]["AddressLine1"]
               for o in orders)  # fmt: skip


def test_restricted_operations_without_and_with_rdt(shop) -> None:
    world, seller, oid, _ = shop
    for operation, suffix, pii in (
        ("getOrderBuyerInfo", "/buyerInfo", "BuyerEmail"),
        ("getOrderAddress", "/address", "ShippingAddress"),
    ):
        plain = check_response(operation, world.sp(seller.token, "GET", f"{ORDERS}/{oid}{suffix}"))
        token = world.rdt(seller, [{"method": "GET", "path": f"{ORDERS}/{oid}{suffix}"}])
        full = check_response(operation, world.sp(token, "GET", f"{ORDERS}/{oid}{suffix}"))
        if pii == "BuyerEmail":
            assert pii not in plain["payload"] and pii in full["payload"]
        else:
            assert "AddressLine1" not in plain["payload"][pii]
            assert "AddressLine1" in full["payload"][pii]
    token = world.rdt(seller, [{"method": "GET", "path": f"{ORDERS}/{oid}/orderItems/buyerInfo"}])
    items = world.sp(token, "GET", f"{ORDERS}/{oid}/orderItems/buyerInfo")
    assert check_response("getOrderItemsBuyerInfo", items)["payload"]["OrderItems"]
    token = world.rdt(seller, [{"method": "GET", "path": f"{ORDERS}/{oid}/orderItems",
                                "dataElements": ["buyerInfo"]}])  # fmt: skip
    check_response("getOrderItems", world.sp(token, "GET", f"{ORDERS}/{oid}/orderItems"))


def test_no_pii_while_pending_even_with_rdt(world: World) -> None:
    world.refill()
    device = world.device()
    oid = world.order(world.replenish(device))["amazon_order_id"]
    seller = world.seller(device["seller_id"])
    token = world.rdt(seller, [{"method": "GET", "path": f"{ORDERS}/{oid}",
                                "dataElements": ["buyerInfo", "shippingAddress"]}])  # fmt: skip
    view = check_response("getOrder", world.sp(token, "GET", f"{ORDERS}/{oid}"))["payload"]
    assert view["BuyerInfo"] == {} and "ShippingAddress" not in view


def test_rdt_expires_after_an_hour(shop) -> None:
    world, seller, oid, _ = shop
    token = world.rdt(seller, [{"method": "GET", "path": f"{ORDERS}/{oid}",
                                "dataElements": ["buyerInfo"]}])  # fmt: skip
    world.advance(3600)
    response = world.sp(token, "GET", f"{ORDERS}/{oid}")
    message = check_error("getOrder", response, 403, "Unauthorized")
    assert message == "Access to requested resource is denied."
    details = response.json()["errors"][0]["details"]
    assert "expired" in details and token not in response.text


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"restrictedResources": []},
        {"restrictedResources": "all"},
        {"restrictedResources": [{"method": "GET"}]},
        {"restrictedResources": [{"method": "GET",
                                  "path": "/orders/v0/orders/{orderId}/shipment"}]},
        {"restrictedResources": [{"method": "FETCH", "path": "/orders/v0/orders"}]},
        {"restrictedResources": [{"method": "GET", "path": "/orders/v0/orders",
                                  "dataElements": ["creditCard"]}]},
        {"restrictedResources": [{"method": "GET", "path": "/orders/v0/orders/{orderId}/address",
                                  "dataElements": ["shippingAddress"]}]},
        {"restrictedResources": [{"method": "GET", "path": "/orders/v0/orders/12-34"}]},
        {"restrictedResources": [{"method": "GET", "path": "/orders/v0/orders",
                                  "dataElements": "buyerInfo"}]},
        {"restrictedResources": [{"method": "GET", "path": "/orders/v0/orders"}] * 51},
        {"restrictedResources": [{"method": "GET", "path": "/orders/v0/orders"}],
         "targetApplication": 7},
        [],
    ],
)  # fmt: skip
def test_bad_rdt_requests(world: World, body) -> None:
    world.refill()
    seller = world.seller(world.device()["seller_id"])
    response = world.sp(seller.token, "POST", RDT_PATH, json=body)
    assert response.status_code == 400, response.text
    errors = response.json()["errors"]
    assert errors[0]["code"] == "InvalidInput" and errors[0]["message"]
    validate("ErrorList", errors)


def test_rdt_needs_a_seller_token(world: World) -> None:
    response = world.sp(None, "POST", RDT_PATH, json={"restrictedResources": []})
    assert response.status_code == 403
    garbled = world.sp("x", "POST", RDT_PATH, content=b"{", headers={"content-type": "x"})
    assert garbled.status_code == 403
