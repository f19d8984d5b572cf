"""getOrders serves each order's stored JSON: the same bytes as rendering it afresh.

Every listing is compared byte for byte with the plain view of the same orders read
from the store (record -> ``OrderView`` -> ``order_json`` dict -> Starlette's JSON), in
every variant (no RDT, RDTs unlocking the address, the buyer, both), across order
states and after every kind of change, so a stored rendering that outlived a change
fails here.
"""

import sqlite3
from types import SimpleNamespace

from drsctl.emulator.order_view import OrderView
from drsctl.emulator.spapi.views import order_json
from drsctl.emulator.store import Store
from starlette.responses import JSONResponse

from host_tests.emulator.seller_world import ORDERS, US, Seller, World
from host_tests.emulator.test_spapi import confirm

ELEMENTS = ((), ("shippingAddress",), ("buyerInfo",), ("buyerInfo", "shippingAddress"))


def _tokens(world: World, seller: Seller) -> list[tuple[str, set[str]]]:
    """A token per variant: the seller's own, then RDTs for getOrders."""
    world.refill()
    world.renew(seller)
    tokens = [(seller.token, set())]
    for elements in ELEMENTS[1:]:
        resource = {"method": "GET", "path": ORDERS, "dataElements": list(elements)}
        tokens.append((world.rdt(seller, [resource]), set(elements)))
    return tokens


def _plain(world: World, response_orders: list[dict], elements: set[str], rest: dict) -> bytes:
    """The page of these orders, rendered afresh from the store."""
    with world.emulator.store.tx() as tx:
        found = [tx.order_by_amazon_id(o["AmazonOrderId"]) for o in response_orders]
        views = OrderView.many(tx, [o for o in found if o is not None])
    ctx = SimpleNamespace(elements=elements)
    payload = {"Orders": [order_json(ctx, view) for view in views], **rest}  # type: ignore[arg-type]
    return JSONResponse({"payload": payload}).body


def _expected_ids(world: World, seller: Seller, statuses: tuple[str, ...] | None) -> list[str]:
    """The seller's order ids in listing order (oldest first), of these statuses if given."""
    with world.emulator.store.tx() as tx:
        found = tx.orders_where("seller_id = ?", [seller.seller_id], "created_at, order_id")
    return [o.amazon_order_id for o in found if statuses is None or o.status in statuses]


def _check(world: World, seller: Seller, statuses: tuple[str, ...] | None = None,
           **params: str) -> list[dict]:  # fmt: skip
    """List in every variant twice (rendered, then stored); compare with the plain view.

    Follows NextTokens; returns the orders of the last listing.
    """
    if statuses is not None:
        params["OrderStatuses"] = ",".join(statuses)
    expected = _expected_ids(world, seller, statuses)
    listed: list[dict] = []
    for token, elements in _tokens(world, seller):
        for _ in range(2):
            world.refill()
            listed = []
            query = {"MarketplaceIds": US, "CreatedAfter": "2020-01-01", **params}
            while True:
                response = world.sp(token, "GET", ORDERS, params=query)
                assert response.status_code == 200, response.text
                assert response.headers["content-type"] == "application/json"
                body = response.json()["payload"]
                rest = {k: v for k, v in body.items() if k != "Orders"}
                assert response.content == _plain(world, body["Orders"], elements, rest)
                listed += body["Orders"]
                if "NextToken" not in body:
                    break
                query = {"MarketplaceIds": US, "NextToken": body["NextToken"]}
            assert [o["AmazonOrderId"] for o in listed] == expected
    stored = world.emulator.store._conn.execute("SELECT COUNT(*) FROM order_json").fetchone()[0]
    assert stored >= len(listed) > 0
    return listed


def test_stored_orders_match_the_plain_view_through_every_change(world: World) -> None:
    world.refill()
    slots = [{"id": s, "quantity": 2} for s in "abc"] + [{"id": "d", "regulated": True}]
    device = world.device(slots=slots)
    seller = world.seller(device["seller_id"])
    eids = {slot: world.replenish(device, slot) for slot in "abcd"}
    ids = {slot: world.order(eid)["amazon_order_id"] for slot, eid in eids.items()}

    def status(slot: str) -> str:
        return world.order(eids[slot])["status"]

    assert {o["OrderStatus"] for o in _check(world, seller)} == {"Pending"}
    world.advance(600)  # the clock authorizes: Unshipped, buyer data appears
    assert {o["OrderStatus"] for o in _check(world, seller)} == {"Unshipped"}
    assert confirm(world, seller, ids["b"], quantity=1, ref="1").status_code == 204
    assert status("b") == "PartiallyShipped"
    _check(world, seller)
    edited = confirm(world, seller, ids["b"], quantity=1, ref="1", carrierCode="USPS")
    assert edited.status_code == 204  # a package edit (nothing rendered changes)
    _check(world, seller)
    assert confirm(world, seller, ids["b"], quantity=1, ref="2").status_code == 204
    assert status("b") == "Shipped"
    _check(world, seller)
    assert world.http.post(f"/_emulator/orders/{eids['c']}/cancel").status_code == 200
    _check(world, seller)
    # a new delivery time changes LatestShipDate, not LastUpdateDate
    moved = world.http.post(f"/_emulator/orders/{eids['a']}/delivery",
                            json={"lead_time_hours": 100})  # fmt: skip
    assert moved.status_code == 200, moved.text
    _check(world, seller)
    world.renew(seller)
    approve = {"regulatedOrderVerificationStatus": {"status": "Approved",
                                                    "externalReviewerId": "vet-1"}}  # fmt: skip
    approved = world.sp(seller.token, "PATCH", f"{ORDERS}/{ids['d']}/regulatedInfo", json=approve)
    assert approved.status_code == 204, approved.text
    _check(world, seller)
    # paging (keyset) and a changing criterion (the ids kept behind the NextToken)
    _check(world, seller, MaxResultsPerPage="2")
    _check(world, seller, ("Unshipped", "Shipped", "Canceled"), MaxResultsPerPage="1")
    world.advance(5 * 86400)  # the clock ships and delivers
    assert {status(slot) for slot in "abcd"} == {"Shipped", "Canceled"}
    _check(world, seller)
    # any writer, even plain SQL, drops what it changes
    with world.emulator.store.tx() as tx:
        tx._conn.execute("UPDATE orders SET ship_service_level = 'Expedited' "
                         "WHERE amazon_order_id = ?", (ids["a"],))  # fmt: skip
        tx._conn.execute("UPDATE customers SET name = 'Renamed Buyer' WHERE customer_id = "
                         "(SELECT customer_id FROM orders WHERE amazon_order_id = ?)",
                         (ids["a"],))  # fmt: skip
    listed = _check(world, seller)
    assert {o["ShipServiceLevel"] for o in listed if o["AmazonOrderId"] == ids["a"]} == {
        "Expedited"
    }
    assert {o["BuyerInfo"]["BuyerName"] for o in listed if "BuyerName" in o["BuyerInfo"]} == {
        "Renamed Buyer"
    }


def test_the_stored_rendering_is_what_is_served(world: World) -> None:
    """The comparisons above exercise the stored bytes: a stored entry is served as is."""
    world.refill()
    device = world.device()
    seller = world.seller(device["seller_id"])
    oid = world.order(world.replenish(device))["amazon_order_id"]
    first = world.get_orders(seller, CreatedAfter="2020-01-01")
    assert first.json()["payload"]["Orders"][0]["AmazonOrderId"] == oid
    with world.emulator.store.tx() as tx:
        changed = tx._conn.execute(
            "UPDATE order_json SET body = CAST('{\"Stored\":true}' AS BLOB) WHERE key / 4 = "
            "(SELECT order_id FROM orders WHERE amazon_order_id = ?)",
            (oid,),
        ).rowcount
    assert changed == 1
    world.refill()
    assert world.get_orders(seller, CreatedAfter="2020-01-01").json()["payload"]["Orders"] == [
        {"Stored": True}
    ]


def test_stored_renderings_do_not_outlive_the_process(tmp_path) -> None:
    """Another version of the code may render differently: opening the store drops them."""
    path = tmp_path / "amazon.sqlite3"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO order_json (key, body) VALUES (4, x'7b7d')")
    conn.commit()
    conn.close()
    Store(path).close()
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM order_json").fetchone()[0] == 0
