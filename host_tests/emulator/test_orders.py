"""Order lifecycle on the virtual clock, customer cancel, settings and the clock itself."""

import time


def drs_status(device, eid: str) -> str:
    device.renew()  # the clock may have moved past the access token's hour
    response = device.order_info(eid)
    assert response.status_code == 200
    return response.json()["orderInfoData"]["orderItems"][0]["status"]


def test_clock_starts_at_wall_time_and_moves_only_when_told(http, advance) -> None:
    first = http.get("/_emulator/clock").json()
    assert abs(first["now"] - time.time()) < 120
    assert isinstance(first["now"], int)
    assert first["iso"].endswith("Z") and first["iso"][10] == "T"
    assert http.get("/_emulator/clock").json()["now"] == first["now"]
    assert advance(90.4) == first["now"] + 90
    moved = http.post("/_emulator/clock", json={"set": first["now"] + 1000}).json()
    assert moved["now"] == first["now"] + 1000


def test_clock_refuses_bad_moves(http) -> None:
    now = http.get("/_emulator/clock").json()["now"]
    for body in ({"set": now - 1}, {"advance": -5}, {}, {"advance": 1, "set": now},
                 {"advance": "10"}, {"advance": True}):  # fmt: skip
        response = http.post("/_emulator/clock", json=body)
        assert response.status_code == 400, body
        assert response.json()["message"]
    assert http.get("/_emulator/clock").json()["now"] == now


def test_lifecycle_follows_the_clock(device, advance) -> None:
    eid = device.replenish().json()["eventInstanceId"]
    created = device.orders()[0]["created_at"]
    advance(599)
    assert drs_status(device, eid) == "Pending"
    advance(1)
    assert drs_status(device, eid) == "Authorized"
    order = device.orders()[0]
    assert (order["status"], order["authorized_at"]) == ("Unshipped", created + 600)
    assert order["updated_at"] == created + 600
    # one long jump runs every due transition, stamped at its due time
    advance(3 * 86400)
    order = device.orders()[0]
    assert drs_status(device, eid) == "Closed"
    assert order["status"] == "Shipped"
    assert order["shipped_at"] == order["delivered_at"] == created + 2 * 86400
    assert order["expected_delivery"] == created + 2 * 86400
    assert order["drs_status"] == "Closed"
    # delivered: the slot may order again
    device.renew()
    assert device.replenish().json()["detailCode"] == "STANDARD_ORDER_PLACED"


def test_order_inprogress_until_delivered(device, advance) -> None:
    eid = device.replenish().json()["eventInstanceId"]
    advance(2 * 86400 - 1)
    device.renew()
    again = device.replenish().json()
    assert again == {"eventInstanceId": eid, "detailCode": "ORDER_INPROGRESS"}
    advance(1)
    assert device.replenish().json()["detailCode"] == "STANDARD_ORDER_PLACED"


def test_settings_apply_to_new_orders(http, device, advance) -> None:
    assert http.get("/_emulator/settings").json() == {
        "authorize_after_s": 600,
        "delivery_days": 2.0,
        "cancel_window_s": 86400,
        "retention_days": 30,
    }
    updated = http.post("/_emulator/settings", json={"authorize_after_s": 60, "delivery_days": 0.5})
    assert updated.json() == {
        "authorize_after_s": 60,
        "delivery_days": 0.5,
        "cancel_window_s": 86400,
        "retention_days": 30,
    }
    eid = device.replenish().json()["eventInstanceId"]
    order = device.orders()[0]
    assert order["expected_delivery"] - order["created_at"] == 43200
    advance(60)
    assert drs_status(device, eid) == "Authorized"
    advance(43200)
    assert drs_status(device, eid) == "Closed"
    for bad in ({"authorize_after_s": -1}, {"bogus": 1}, {"delivery_days": "2"}):
        response = http.post("/_emulator/settings", json=bad)
        assert response.status_code == 400, bad


def test_customer_cancel_within_window(http, device, advance) -> None:
    eid = device.replenish().json()["eventInstanceId"]
    advance(700)  # authorized but not shipped
    response = http.post(f"/_emulator/orders/{eid}/cancel")
    assert response.status_code == 200
    order = response.json()["order"]
    assert (order["status"], order["drs_status"]) == ("Canceled", "Canceled")
    assert order["canceled_at"] == order["created_at"] + 700
    assert drs_status(device, eid) == "Canceled"
    again = http.post(f"/_emulator/orders/{eid}/cancel")
    assert again.status_code == 409
    # a canceled order no longer blocks the slot, and time does not revive it
    advance(5 * 86400)
    assert drs_status(device, eid) == "Canceled"
    device.renew()
    assert device.replenish().json()["detailCode"] == "STANDARD_ORDER_PLACED"


def test_customer_cancel_refused_after_window(http, device, advance) -> None:
    http.post("/_emulator/settings", json={"delivery_days": 3})
    eid = device.replenish().json()["eventInstanceId"]
    advance(86400)
    response = http.post(f"/_emulator/orders/{eid}/cancel")
    assert response.status_code == 409
    assert "window" in response.json()["message"]
    assert drs_status(device, eid) == "Authorized"


def test_customer_cancel_refused_once_shipped(http, device, advance) -> None:
    http.post("/_emulator/settings", json={"delivery_days": 0.5, "cancel_window_s": 10 * 86400})
    eid = device.replenish().json()["eventInstanceId"]
    advance(86400)
    response = http.post(f"/_emulator/orders/{eid}/cancel")
    assert response.status_code == 409
    assert drs_status(device, eid) == "Closed"
    assert http.post("/_emulator/orders/amzn1.dash.v2.o.nope/cancel").status_code == 404


def test_orders_filter(http, provision) -> None:
    one, two = provision(serial="S-1"), provision(serial="S-2")
    one.replenish()
    one.replenish("drum")
    two.replenish()
    everything = http.get("/_emulator/orders").json()["orders"]
    assert len(everything) == 3
    by_slot = http.get(
        "/_emulator/orders", params={"device_id": one.device_id, "slot_id": "drum"}
    ).json()["orders"]
    assert [(o["device_id"], o["slot_id"]) for o in by_slot] == [(one.device_id, "drum")]
    assert {o["customer_id"] for o in everything} == {
        one.info["customer_id"],
        two.info["customer_id"],
    }
    assert {o["seller_id"] for o in everything} == {one.info["seller_id"]}  # one brand, one seller
    assert len({o["amazon_order_id"] for o in everything}) == 3


def test_reprovisioning_a_serial_replaces_the_old_registration(provision) -> None:
    old = provision(serial="SAME")
    new = provision(serial="SAME")
    assert new.device_id != old.device_id
    assert old.replenish().json() == {"message": "Invalid token"}
    assert new.replenish().status_code == 200


def test_each_order_can_take_its_own_delivery_time(http, device, advance) -> None:
    eid = device.replenish().json()["eventInstanceId"]
    created = device.orders()[0]["created_at"]
    moved = http.post(f"/_emulator/orders/{eid}/delivery", json={"lead_time_hours": 130})
    assert moved.status_code == 200, moved.text
    assert moved.json()["order"]["expected_delivery"] == created + 130 * 3600
    device.renew()
    info = device.order_info(eid).json()["orderInfoData"]["orderItems"][0]
    assert info["expectedDeliveryDate"].startswith(
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created + 130 * 3600))
    )
    advance(129 * 3600)
    assert drs_status(device, eid) == "Authorized"  # the default 2 days no longer apply
    advance(3600)
    assert drs_status(device, eid) == "Closed"
    assert device.orders()[0]["delivered_at"] == created + 130 * 3600
    # an absolute time works too, for the next order
    device.renew()
    second = device.replenish().json()["eventInstanceId"]
    at = http.get("/_emulator/clock").json()["now"] + 3 * 86400
    assert (
        http.post(f"/_emulator/orders/{second}/delivery", json={"delivery_at": at}).json()["order"][
            "expected_delivery"
        ]
        == at
    )


def test_a_delivery_time_is_refused_when_it_cannot_be(http, device, advance) -> None:
    eid = device.replenish().json()["eventInstanceId"]
    path = f"/_emulator/orders/{eid}/delivery"
    for body in ({}, {"lead_time_hours": 5, "delivery_at": 1}, {"lead_time_hours": -1},
                 {"lead_time_hours": "5"}, {"delivery_at": 1.5}):  # fmt: skip
        response = http.post(path, json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["message"]
    too_early = http.post(path, json={"lead_time_hours": 0.05})  # before authorization
    assert too_early.status_code == 409
    unknown = http.post("/_emulator/orders/amzn1.dash.v2.o.nope/delivery", json={"delivery_at": 1})
    assert unknown.status_code == 404
    advance(3 * 86400)
    late = http.post(path, json={"lead_time_hours": 100})
    assert late.status_code == 409 and "no longer on its way" in late.json()["message"]
