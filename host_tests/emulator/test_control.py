"""The control API's order shortcut: ``POST /_emulator/orders`` places an order for a seller."""

import httpx

from host_tests.emulator.seller_world import ORDERS, World


def test_place_an_order_for_a_seller_by_name(world: World) -> None:
    seller = world.seller("ACMESHORTCUT01", name="acme-shortcut")
    placed = world.http.post(
        "/_emulator/orders",
        json={"seller": "acme-shortcut", "asin": "B00SHORTC1", "quantity": 3, "price": "5.00"},
    )
    assert placed.status_code == 200, placed.text
    order = placed.json()["order"]
    assert order["seller_id"] == "ACMESHORTCUT01"
    assert (order["asin"], order["quantity"], order["status"]) == ("B00SHORTC1", 3, "Pending")
    assert order["amazon_order_id"] and order["event_instance_id"].startswith("amzn1.dash.v2.o.")
    # the seller's back office sees it like any DRS order
    world.refill()
    got = world.sp(seller.token, "GET", f"{ORDERS}/{order['amazon_order_id']}")
    assert got.status_code == 200, got.text
    assert got.json()["payload"]["OrderChannel"] == "DashReplenishment"
    # by seller id too, and each call is a new order
    again = world.http.post("/_emulator/orders", json={"seller": "ACMESHORTCUT01"})
    assert again.status_code == 200
    assert again.json()["order"]["amazon_order_id"] != order["amazon_order_id"]


def test_place_an_order_refuses_bad_input(world: World) -> None:
    http: httpx.Client = world.http
    unknown = http.post("/_emulator/orders", json={"seller": "nobody-sells-this"})
    assert unknown.status_code == 404
    assert "POST /_emulator/sellers" in unknown.json()["message"]
    world.seller("ACMESHORTCUT02", name="acme-two")
    two = "acme-two"
    bodies = [{}, {"seller": 7}, {"seller": two, "quantity": 0},
              {"seller": two, "quantity": "2"}, {"seller": two, "test": "yes"}]  # fmt: skip
    for body in bodies:
        response = http.post("/_emulator/orders", json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["message"]
