"""DRS v1 endpoints over real HTTP: success bodies, headers, token and slot errors."""

import json
from datetime import datetime

import pytest

from host_tests.emulator.conftest import VERSIONS, P
from host_tests.fake_tokens import ACCESS

SLOT_STATUS = {
    "expectedReplenishmentDate": "2026-02-01T00:00:00Z",
    "remainingQuantityInUnit": 3.5,
    "originalQuantityInUnit": 10,
    "totalQuantityOnHand": 13.5,
    "lastUseDate": "2026-01-20T08:00:00.000Z",
}
# (route, method, path) for every DRS endpoint of the contract, slot paths on a real slot
ENDPOINTS = [
    ("replenish", "POST", "/replenish/toner-black"),
    ("getOrderInfo", "GET", "/getOrderInfo/amzn1.dash.v2.o.x"),
    ("slotStatus", "POST", "/slotStatus/toner-black"),
    ("deviceStatus", "POST", "/deviceStatus"),
    ("deviceStatus", "POST", "/deviceStatus/PRN-000123"),
    ("subscriptionInfo", "GET", "/subscriptionInfo"),
    ("registration", "DELETE", "/registration"),
    ("testOrders", "DELETE", "/testOrders/slots/toner-black"),
    ("testOrders", "DELETE", "/testOrders"),
]


def test_replenish_places_a_standard_order(device) -> None:
    response = device.replenish()
    assert response.status_code == 200
    assert response.headers["x-amzn-type-version"] == P + "DrsReplenishResult@1.0"
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["detailCode"] == "STANDARD_ORDER_PLACED"
    assert body["eventInstanceId"].startswith("amzn1.dash.v2.o.")
    [order] = device.orders()
    assert order["event_instance_id"] == body["eventInstanceId"]
    assert order["asin"] == "B00TONERBK"
    assert order["quantity"] == 2
    assert order["status"] == "Pending"
    assert order["is_test"] is False
    assert order["marketplace_id"] == "ATVPDKIKX0DER"
    first, second, third = order["amazon_order_id"].split("-")
    assert (len(first), len(second), len(third)) == (3, 7, 7)
    assert order["amazon_order_id"].replace("-", "").isdigit()


def test_order_inprogress_points_at_the_open_order(device) -> None:
    placed = device.replenish().json()
    again = device.replenish()
    assert again.status_code == 200
    assert again.json() == {
        "eventInstanceId": placed["eventInstanceId"],
        "detailCode": "ORDER_INPROGRESS",
    }
    other_slot = device.replenish("drum").json()
    assert other_slot["detailCode"] == "STANDARD_ORDER_PLACED"
    assert len(device.orders()) == 2


def test_test_device_places_test_orders(provision) -> None:
    device = provision(test_orders=True)
    body = device.replenish().json()
    assert body["detailCode"] == "TEST_ORDER_PLACED"
    assert device.orders()[0]["is_test"] is True


def test_unknown_slot_is_404(device) -> None:
    for route, path in [
        ("replenish", "/replenish/nope"),
        ("slotStatus", "/slotStatus/nope"),
        ("testOrders", "/testOrders/slots/nope"),
    ]:
        response = device.call(route, path, json=SLOT_STATUS)
        assert response.status_code == 404, path
        assert "nope" in response.json()["message"]
    assert device.orders() == []


def test_unsubscribed_slot_cannot_replenish(provision) -> None:
    device = provision(slots=[{"id": "pods", "subscribed": False}])
    response = device.replenish("pods")
    assert response.status_code == 400
    assert response.json() == {"message": "Unable to place order - slot : pods is unsubscribed."}
    info = device.call("subscriptionInfo", "/subscriptionInfo").json()
    assert info == {
        "slotsSubscriptionStatus": {"pods": {"subscribed": False, "productInfoList": []}}
    }


def test_get_order_info_matches_the_seed_shape(device) -> None:
    eid = device.replenish().json()["eventInstanceId"]
    response = device.order_info(eid)
    assert response.status_code == 200
    assert response.headers["x-amzn-type-version"] == P + "DrsOrderInfoResult@1.0"
    order = device.orders()[0]
    body = response.json()
    assert body == {
        "orderInfoData": {
            "instanceId": eid,
            "orderItems": [
                {
                    "asin": "B00TONERBK",
                    "expectedDeliveryDate": body["orderInfoData"]["orderItems"][0][
                        "expectedDeliveryDate"
                    ],
                    "quantity": 2,
                    "slotId": "toner-black",
                    "status": "Pending",
                }
            ],
        }
    }
    expected = body["orderInfoData"]["orderItems"][0]["expectedDeliveryDate"]
    assert expected.endswith(".000Z") and len(expected) == 24
    parsed = datetime.fromisoformat(expected)
    assert int(parsed.timestamp()) == order["expected_delivery"]
    assert order["expected_delivery"] - order["created_at"] == 2 * 86400


def test_get_order_info_unknown_or_foreign_is_400(provision) -> None:
    """Seed 000 lists only 400 and 500 for getOrderInfo: an unknown order is a 400."""
    mine = provision(serial="A-1")
    theirs = provision(serial="B-2")
    eid = theirs.replenish().json()["eventInstanceId"]
    for event_instance_id in (eid, "amzn1.dash.v2.o.00000000-0000-0000-0000-000000000000"):
        response = mine.order_info(event_instance_id)
        assert response.status_code == 400
        assert response.json() == {"message": "No order found for this eventInstanceId"}
    assert theirs.order_info(eid).status_code == 200


def test_slot_status_is_recorded(http, device) -> None:
    response = device.call("slotStatus", "/slotStatus/toner-black", json=SLOT_STATUS)
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["x-amzn-type-version"] == P + "DrsSlotStatusResult@1.0"
    seen = http.get("/_emulator/slot-status", params={"device_id": device.device_id}).json()
    assert seen["slots"]["toner-black"]["body"] == SLOT_STATUS
    assert seen["device_status"] is None


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        json.dumps({**SLOT_STATUS, "lastUseDate": "yesterday"}).encode(),
        json.dumps({**SLOT_STATUS, "remainingQuantityInUnit": "3"}).encode(),
        json.dumps({**SLOT_STATUS, "totalQuantityOnHand": True}).encode(),
        json.dumps(
            {k: v for k, v in SLOT_STATUS.items() if k != "originalQuantityInUnit"}
        ).encode(),
    ],
)
def test_slot_status_validates_the_body(http, device, body) -> None:
    response = device.call("slotStatus", "/slotStatus/toner-black", content=body)
    assert response.status_code == 400
    assert response.json()["message"]
    assert response.headers["x-amzn-ErrorType"] == "ValidationException"
    seen = http.get("/_emulator/slot-status", params={"device_id": device.device_id}).json()
    assert seen["slots"] == {}


def test_device_status_both_paths(http, device) -> None:
    body = {"mostRecentlyActiveDate": "2026-01-20T08:00:00Z"}
    response = device.call("deviceStatus", "/deviceStatus", json=body)
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["x-amzn-type-version"] == P + "DrsDeviceStatusResult@1.0"
    later = {"mostRecentlyActiveDate": "2026-01-21T08:00:00Z"}
    assert device.call("deviceStatus", "/deviceStatus/PRN-000123", json=later).status_code == 200
    seen = http.get("/_emulator/slot-status", params={"device_id": device.device_id}).json()
    assert seen["device_status"]["body"] == later
    wrong = device.call("deviceStatus", "/deviceStatus/OTHER-1", json=body)
    assert wrong.status_code == 404
    bad = device.call("deviceStatus", "/deviceStatus", json={"mostRecentlyActiveDate": 5})
    assert bad.status_code == 400
    assert "mostRecentlyActiveDate" in bad.json()["message"]


def test_subscription_info(device) -> None:
    response = device.call("subscriptionInfo", "/subscriptionInfo")
    assert response.status_code == 200
    assert response.headers["x-amzn-type-version"] == P + "DrsSubscriptionInfoResult@2.0"
    status = response.json()["slotsSubscriptionStatus"]
    assert status["toner-black"] == {
        "subscribed": True,
        "productInfoList": [{"asin": "B00TONERBK", "quantity": 2, "unit": "count"}],
    }
    assert set(status) == {"toner-black", "drum"}
    assert status["drum"]["productInfoList"][0]["asin"].startswith("B0")


def test_deregistration_revokes_everything(device) -> None:
    response = device.call("registration", "/registration")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["x-amzn-type-version"] == P + "DrsDeregisterResult@1.0"
    after = device.replenish()
    assert after.status_code == 400
    assert after.json() == {"message": "Invalid token"}
    assert after.headers["x-amzn-ErrorType"] == "InvalidTokenException"
    refresh = device.refresh()
    assert refresh.status_code == 400
    assert refresh.json()["error"] == "invalid_grant"


def test_cancel_test_orders(provision) -> None:
    device = provision(test_orders=True)
    eid = device.replenish().json()["eventInstanceId"]
    response = device.call("testOrders", "/testOrders/slots/toner-black")
    assert response.status_code == 200
    assert response.headers["x-amzn-type-version"] == P + "DrsCancelTestOrdersResult@1.0"
    assert response.json() == {
        "slotOrderStatuses": [{"orderStatus": "CANCELLED", "slotId": "toner-black"}]
    }
    info = device.order_info(eid).json()["orderInfoData"]["orderItems"][0]
    assert info["status"] == "Canceled"
    device.replenish("drum")
    everything = device.call("testOrders", "/testOrders").json()["slotOrderStatuses"]
    assert sorted(everything, key=lambda s: s["slotId"]) == [
        {"orderStatus": "CANCELLED", "slotId": "drum"},
        {"orderStatus": "NO_ORDER_IN_PROGRESS", "slotId": "toner-black"},
    ]
    # the slot is free again
    assert device.replenish().json()["detailCode"] == "TEST_ORDER_PLACED"


def test_cancel_test_orders_leaves_real_orders(device) -> None:
    device.replenish()
    response = device.call("testOrders", "/testOrders/slots/toner-black")
    assert response.json()["slotOrderStatuses"][0]["orderStatus"] == "NO_ORDER_IN_PROGRESS"
    assert device.orders()[0]["status"] == "Pending"


@pytest.mark.parametrize(("route", "method", "path"), ENDPOINTS)
def test_version_headers_are_checked(device, route, method, path) -> None:
    type_version, accept = VERSIONS[route]
    auth = {"Authorization": f"Bearer {device.access_token}"}
    good = {"x-amzn-type-version": P + type_version, "x-amzn-accept-type": P + accept}
    cases = [
        ({"x-amzn-accept-type": P + accept}, "x-amzn-type-version", P + type_version),
        ({"x-amzn-type-version": P + type_version}, "x-amzn-accept-type", P + accept),
        ({**good, "x-amzn-type-version": P + "DrsReplenishInput@2.0"}, "x-amzn-type-version",
         P + type_version),
        ({**good, "x-amzn-accept-type": (P + accept).lower()}, "x-amzn-accept-type", P + accept),
    ]  # fmt: skip
    for headers, named, expected in cases:
        response = device.http.request(method, path, headers={**auth, **headers})
        assert response.status_code == 400, (headers, response.text)
        message = response.json()["message"]
        assert named in message and expected in message
    # header names are case-insensitive
    shouting = {k.upper(): v for k, v in good.items()}
    body = {"mostRecentlyActiveDate": "2026-01-01T00:00:00Z", **SLOT_STATUS}
    ok = device.http.request(method, path, headers={**auth, **shouting}, json=body)
    assert ok.status_code in (200, 400), ok.text  # 400: the made-up eventInstanceId
    if route == "getOrderInfo":
        assert ok.json() == {"message": "No order found for this eventInstanceId"}
    else:
        assert ok.status_code == 200


@pytest.mark.parametrize(("route", "method", "path"), ENDPOINTS)
def test_bad_tokens_are_invalid_token(device, route, method, path) -> None:
    for authorization in (None, f"Bearer {ACCESS}unknown", "Basic abc", "Bearer", f"{ACCESS}x"):
        headers = device.headers(route, token=None)
        if authorization is not None:
            headers["Authorization"] = authorization
        response = device.http.request(method, path, headers=headers, json=SLOT_STATUS)
        assert response.status_code == 400, authorization
        assert response.json() == {"message": "Invalid token"}
        assert response.headers["x-amzn-ErrorType"] == "InvalidTokenException"
    assert device.orders() == []


def test_expire_tokens_control(http, device) -> None:
    expired = http.post("/_emulator/tokens/expire", json={"device_id": device.device_id})
    assert expired.json() == {"expired": 2}  # from provisioning and from the refresh
    response = device.call("subscriptionInfo", "/subscriptionInfo")
    assert response.status_code == 400
    assert response.json() == {"message": "Invalid token"}
    unknown = http.post("/_emulator/tokens/expire", json={"device_id": "nope"})
    assert unknown.status_code == 404


def test_request_log_resolves_the_device(http, device) -> None:
    device.replenish()
    device.call("subscriptionInfo", "/subscriptionInfo", token=f"{ACCESS}unknown")
    entries = http.get("/_emulator/requests").json()["requests"]
    tail = entries[-2:]
    assert [(e["method"], e["path"], e["route"], e["status"], e["device_id"]) for e in tail] == [
        ("POST", "/replenish/toner-black", "replenish", 200, device.device_id),
        ("GET", "/subscriptionInfo", "subscriptionInfo", 400, None),
    ]
    assert all(e["fault"] is None for e in entries)
    since = http.get("/_emulator/requests", params={"since": tail[0]["id"]}).json()["requests"]
    assert [e["id"] for e in since] == [tail[1]["id"]]
    limited = http.get("/_emulator/requests", params={"limit": 1}).json()["requests"]
    assert len(limited) == 1
    assert not any(e["path"].startswith("/_emulator") for e in entries)


def test_v1_subscription_info_lists_subscribed_flags(provision) -> None:
    device = provision(
        slots=[{"id": "toner", "asin": "B00TONERBK"}, {"id": "pods", "subscribed": False}]
    )
    headers = {"x-amzn-accept-type": P + "DrsSubscriptionInfoResult@1.0"}
    response = device.call("subscriptionInfo", "/subscriptionInfo", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["x-amzn-type-version"] == P + "DrsSubscriptionInfoResult@1.0"
    assert response.json() == {"slotsSubscriptionStatus": {"toner": True, "pods": False}}
    # v2 stays the default answer of the v2 header pair
    v2 = device.call("subscriptionInfo", "/subscriptionInfo").json()
    assert v2["slotsSubscriptionStatus"]["toner"]["subscribed"] is True


def test_v1_deregistration_by_model_and_serial(provision) -> None:
    device = provision(serial="SER-V1")
    headers = {"x-amzn-type-version": P + "DrsDeregisterInput@1.0"}
    path = "/deviceModels/acme-x1/devices/{serial}/registration"
    # the v2 input type is not accepted on the v1 path, and vice versa
    v2_on_v1 = device.call("registration", path.format(serial="SER-V1"))
    assert v2_on_v1.status_code == 400 and "DrsDeregisterInput@1.0" in v2_on_v1.json()["message"]
    v1_on_v2 = device.call("registration", "/registration", headers=headers)
    assert v1_on_v2.status_code == 400
    other = device.call("registration", path.format(serial="SER-OTHER"), headers=headers)
    assert other.status_code == 404
    done = device.call("registration", path.format(serial="SER-V1"), headers=headers)
    assert done.status_code == 200, done.text
    assert done.headers["x-amzn-type-version"] == P + "DrsDeregisterResult@1.0"
    assert device.replenish().json() == {"message": "Invalid token"}
