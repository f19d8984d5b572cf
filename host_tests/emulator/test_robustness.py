"""Regression tests of the review: hostile input is a 4xx in the service's shape, never a 500.

Covers deeply nested and non-finite JSON (one strict parser everywhere), number bounds of
the control API, stored bad data on read routes, ``x-amzn-RequestId`` on unexpected 500s
and ASCII-only digit parameters. The fuzz test over every route is ``test_fuzz.py``.
"""

import json
import re
from typing import Any

import httpx
import pytest
from drsctl.emulator import clock, inputs
from drsctl.emulator.server import EmulatorThread
from drsctl.emulator.spapi import dispatch
from drsctl.emulator.store import Report

from host_tests.emulator.conftest import Device
from host_tests.emulator.seller_world import ORDERS, US, World, mws_error
from host_tests.emulator.spapi_schema import check_error

SLOT_STATUS = {
    "expectedReplenishmentDate": "2026-01-05T07:59:59Z",
    "remainingQuantityInUnit": 3,
    "originalQuantityInUnit": 10,
    "totalQuantityOnHand": 13,
    "lastUseDate": "2026-01-01T00:00:00Z",
}

HOSTILE_JSON = {
    "nested arrays": b"[" * 20000,
    "nested objects": b'{"a":' * 5000,
    "65 levels": b"[" * 65 + b"]" * 65,
    "NaN": b'{"x": NaN}',
    "Infinity": b'{"x": Infinity}',
    "-Infinity": b'{"x": -Infinity}',
    "float overflow": b'{"x": 1e400}',
    "5000 digits": b'{"x": ' + b"9" * 5000 + b"}",
    "lone surrogate": b'{"x": "\\ud800"}',
}
"""Bodies the shared parser refuses (each used to be a 500 somewhere)."""

JSON_TYPE = {"content-type": "application/json"}


def _raw(body: dict[str, Any]) -> bytes:
    """Encode ``body`` as JSON allowing NaN/Infinity (what a hostile client may send)."""
    return json.dumps(body, allow_nan=True).encode()


def _shop(world: World) -> tuple[Any, str, str]:
    """Return a seller, its Unshipped order id and the order's item id."""
    world.refill()
    device = world.device()
    eid = world.replenish(device)
    world.advance(600)
    seller = world.seller(device["seller_id"])
    return seller, world.order(eid)["amazon_order_id"], world.order(eid)["order_item_id"]


# -- 1. one strict JSON parser --------------------------------------------------------------
def test_the_parser_refuses_what_json_loads_lets_through() -> None:
    for body in HOSTILE_JSON.values():
        with pytest.raises(inputs.InputError):
            inputs.load_json(body)
        with pytest.raises(inputs.InputError):
            inputs.load_json(body.decode())
    assert inputs.load_json(b"[" * 64 + b"]" * 64) is not None  # 64 levels are fine
    assert inputs.load_json('{"e": "\\ud83d\\ude00", "n": 1.5e300}') == {"e": "😀", "n": 1.5e300}


@pytest.mark.parametrize("name", list(HOSTILE_JSON))
def test_hostile_json_is_400_on_drs_and_control(http: httpx.Client, device: Device, name) -> None:
    body = HOSTILE_JSON[name]
    slot = device.call("slotStatus", "/slotStatus/toner-black", content=body)
    assert slot.status_code == 400, slot.text
    assert "not valid JSON" in slot.json()["message"]
    assert slot.headers["x-amzn-ErrorType"] == "ValidationException"
    status = device.call("deviceStatus", "/deviceStatus", content=body)
    assert status.status_code == 400, status.text
    for path in ("/_emulator/provision", "/_emulator/clock", "/_emulator/settings"):
        response = http.post(path, content=body, headers=JSON_TYPE)
        assert response.status_code == 400, (path, response.text)
        assert "not valid JSON" in response.json()["message"]
        assert response.headers["x-amzn-RequestId"]
    reports = http.get("/_emulator/slot-status", params={"device_id": device.device_id})
    assert reports.status_code == 200
    assert reports.json()["slots"] == {}


def test_hostile_json_is_invalid_input_on_sp_api(world: World) -> None:
    seller, oid, _ = _shop(world)
    world.http.post("/_emulator/rate-limits", json={"enabled": False})
    try:
        for name, body in HOSTILE_JSON.items():
            for operation, method, path in (
                ("confirmShipment", "POST", f"{ORDERS}/{oid}/shipmentConfirmation"),
                ("updateShipmentStatus", "POST", f"{ORDERS}/{oid}/shipment"),
                ("createRestrictedDataToken", "POST", "/tokens/2021-03-01/restrictedDataToken"),
                ("updateVerificationStatus", "PATCH", f"{ORDERS}/{oid}/regulatedInfo"),
            ):
                response = world.sp(seller.token, method, path, content=body, headers=JSON_TYPE)
                if operation == "createRestrictedDataToken":  # not in the Orders model
                    assert response.status_code == 400, (name, response.text)
                    assert response.json()["errors"][0]["code"] == "InvalidInput"
                elif operation == "updateVerificationStatus":  # not regulated: refused first
                    assert response.status_code == 400, (name, response.text)
                else:
                    message = check_error(operation, response, 400, "InvalidInput")
                    assert "not valid JSON" in message, (name, message)
                assert response.headers["x-amzn-RequestId"]
    finally:
        world.http.post("/_emulator/rate-limits", json={"enabled": True})


# -- 2. numbers -----------------------------------------------------------------------------
def test_slot_status_refuses_non_finite_numbers(http: httpx.Client, device: Device) -> None:
    for value in ("NaN", "Infinity", "-Infinity", "1e999"):
        raw = json.dumps(SLOT_STATUS).replace('": 3,', f'": {value},').encode()
        assert value.encode() in raw
        response = device.call("slotStatus", "/slotStatus/toner-black", content=raw)
        assert response.status_code == 400, (value, response.text)
    reports = http.get("/_emulator/slot-status", params={"device_id": device.device_id})
    assert reports.status_code == 200
    assert reports.json()["slots"] == {}
    ok = device.call("slotStatus", "/slotStatus/toner-black", json=SLOT_STATUS)
    assert ok.status_code == 200


def test_a_stored_bad_report_does_not_break_slot_status(
    emulator: EmulatorThread, http: httpx.Client, device: Device
) -> None:
    with emulator.store.tx() as tx:  # what an older emulator let in
        tx.insert_report(Report(device.device_id, "slotStatus", "toner-black",
                                '{"remainingQuantityInUnit": NaN}', tx.now()))  # fmt: skip
        tx.insert_report(Report(device.device_id, "deviceStatus", None, "[" * 5000, tx.now()))
    response = http.get("/_emulator/slot-status", params={"device_id": device.device_id})
    assert response.status_code == 200, response.text
    slot = response.json()["slots"]["toner-black"]
    assert slot["body"] is None and "not valid JSON" in slot["error"]
    assert response.json()["device_status"]["body"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"advance": NaN}', "NaN is not a valid JSON number"),
        (b'{"advance": Infinity}', "Infinity is not a valid JSON number"),
        (b'{"advance": 1e300}', "advance"),
        (b'{"advance": -1}', "advance"),
        (b'{"advance": "5"}', "advance"),
        (b'{"set": 99999999999999999999}', "set"),
        (b'{"set": 1e300}', "set"),
        (b'{"set": -Infinity}', "-Infinity is not a valid JSON number"),
        (b'{"set": 1e999}', "out of range"),
        (b'{"set": 253402300800}', "set"),
        (b'{"set": true}', "set"),
    ],
)
def test_clock_numbers_are_checked(http: httpx.Client, body: bytes, field: str) -> None:
    """Bad numbers are named in the message (non-finite literals are not even JSON)."""
    before = http.get("/_emulator/clock").json()
    response = http.post("/_emulator/clock", content=body, headers=JSON_TYPE)
    assert response.status_code == 400, response.text
    assert field in response.json()["message"]
    assert http.get("/_emulator/clock").json() == before


def test_the_clock_goes_up_to_year_9999_and_no_further(http: httpx.Client) -> None:
    last = http.post("/_emulator/clock", json={"set": clock.MAX_T})
    assert last.status_code == 200, last.text
    assert last.json()["iso"] == "9999-12-31T23:59:59Z"
    refused = http.post("/_emulator/clock", json={"advance": 1})
    assert refused.status_code == 400
    assert "advance" in refused.json()["message"]
    assert http.post("/_emulator/clock", json={"advance": 0.4}).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"delivery_days": NaN}', "NaN is not a valid JSON number"),
        (b'{"delivery_days": 1e300}', "delivery_days"),
        (b'{"delivery_days": 3650.5}', "delivery_days"),
        (b'{"delivery_days": -0.5}', "delivery_days"),
        (b'{"authorize_after_s": 100000000000000000000}', "authorize_after_s"),
        (b'{"authorize_after_s": 1.5}', "authorize_after_s"),
        (b'{"cancel_window_s": 315360001}', "cancel_window_s"),
        (b'{"cancel_window_s": -1}', "cancel_window_s"),
        (b'{"retention_days": 3651}', "retention_days"),
        (b'{"retention_days": 0.5}', "retention_days"),
    ],
)
def test_settings_are_bounded(http: httpx.Client, device: Device, body: bytes, field) -> None:
    """Out-of-range settings are refused (400 naming the field); replenish keeps working."""
    before = http.get("/_emulator/settings").json()
    response = http.post("/_emulator/settings", content=body, headers=JSON_TYPE)
    assert response.status_code == 400, response.text
    assert field in response.json()["message"]
    assert http.get("/_emulator/settings").json() == before
    assert device.replenish().status_code == 200


def test_the_largest_settings_still_replenish(http: httpx.Client, device: Device) -> None:
    top = {"authorize_after_s": 315360000, "delivery_days": 3650, "cancel_window_s": 315360000,
           "retention_days": 3650}  # fmt: skip
    assert http.post("/_emulator/settings", json=top).json() == top
    assert http.post("/_emulator/clock", json={"set": clock.MAX_T - 1000}).status_code == 200
    device.renew()
    placed = device.replenish()
    assert placed.status_code == 200, placed.text
    info = device.order_info(placed.json()["eventInstanceId"])
    assert info.status_code == 200, info.text
    assert http.get("/_emulator/orders").status_code == 200


def test_stored_bad_settings_and_clock_do_not_break_reads(
    emulator: EmulatorThread, http: httpx.Client, device: Device
) -> None:
    with emulator.store.tx() as tx:  # what an older emulator let in
        tx.update_settings(
            {"delivery_days": float("nan"), "authorize_after_s": -5, "cancel_window_s": 1e300}
        )
        tx.set_now(10**15)
    settings = http.get("/_emulator/settings")
    assert settings.status_code == 200, settings.text
    assert settings.json()["delivery_days"] == 2.0 and settings.json()["authorize_after_s"] == 600
    now = http.get("/_emulator/clock")
    assert now.status_code == 200, now.text
    assert now.json() == {"now": 10**15, "iso": "9999-12-31T23:59:59Z"}
    device.renew()
    placed = device.replenish()
    assert placed.status_code == 200, placed.text
    info = device.order_info(placed.json()["eventInstanceId"])
    assert info.status_code == 200, info.text
    assert info.json()["orderInfoData"]["orderItems"][0]["expectedDeliveryDate"].startswith("9999")


def test_counts_and_quantities_fit_sqlite(http: httpx.Client) -> None:
    huge = 10**30
    for path, body in (
        ("/_emulator/faults", {"route": "replenish", "kind": "status", "count": huge}),
        ("/_emulator/faults", {"route": "replenish", "kind": "status", "status": huge}),
        ("/_emulator/provision", {"serial": "S", "slots": [{"id": "a", "quantity": huge}]}),
    ):
        response = http.post(path, json=body)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["message"]
    for params in ({"since": "99999999999999999999"}, {"limit": "9" * 5000}, {"since": "²"}):
        response = http.get("/_emulator/requests", params=params)
        assert response.status_code == 400, (params, response.text)


# -- 3. x-amzn-RequestId on unexpected 500s ---------------------------------------------------
def test_an_unexpected_control_500_has_a_request_id(http: httpx.Client, monkeypatch) -> None:
    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom with internals")

    monkeypatch.setattr(clock, "advance", explode)
    response = http.post("/_emulator/clock", json={"advance": 5})
    assert response.status_code == 500
    assert response.json() == {"message": "Internal server error"}
    assert response.headers["x-amzn-RequestId"]
    assert "boom" not in response.text and "Traceback" not in response.text
    monkeypatch.undo()  # the keep-alive connection survived the 500
    assert http.post("/_emulator/clock", json={"advance": 5}).status_code == 200


def test_an_unexpected_sp_api_500_has_a_request_id(world: World, monkeypatch) -> None:
    seller, oid, _ = _shop(world)

    def explode(*args: Any, **kwargs: Any) -> Any:
        """Stands in for the caller's authentication: fails before the operation's handler."""
        raise RuntimeError("boom with internals")

    monkeypatch.setattr(dispatch, "authenticate", explode)
    response = world.sp(seller.token, "GET", f"{ORDERS}/{oid}")
    assert response.status_code == 500
    assert response.headers["x-amzn-RequestId"]
    assert response.json()["errors"][0]["code"] == "InternalFailure"
    assert "boom" not in response.text and "Traceback" not in response.text
    monkeypatch.undo()  # the keep-alive connection survived the 500
    assert world.sp(seller.token, "GET", f"{ORDERS}/{oid}").status_code == 200


# -- 4. ASCII digits only ---------------------------------------------------------------------
@pytest.mark.parametrize("size", ["١", "²", "𝟓", "٥٠", "9" * 5000, "0", "101", "-1", " 5", "5.0"])
def test_max_results_per_page_takes_ascii_digits_only(world: World, size: str) -> None:
    seller, _, _ = _shop(world)
    response = world.get_orders(seller, CreatedAfter="2020-01-01", MaxResultsPerPage=size)
    message = check_error("getOrders", response, 400, "InvalidInput")
    assert "MaxResultsPerPage" in message
    assert response.headers["x-amzn-RequestId"]


def test_ascii_page_sizes_still_work(world: World) -> None:
    seller, oid, _ = _shop(world)
    for size in ("1", "05", "100"):
        response = world.get_orders(seller, CreatedAfter="2020-01-01", MaxResultsPerPage=size)
        assert response.status_code == 200, response.text
        assert [o["AmazonOrderId"] for o in response.json()["payload"]["Orders"]] == [oid]


def test_package_reference_id_takes_ascii_digits_only(world: World) -> None:
    seller, oid, item = _shop(world)
    world.http.post("/_emulator/rate-limits", json={"enabled": False})
    try:
        for reference in ("١", "²", "0", "00", "9" * 5000):
            package = {"packageReferenceId": reference, "carrierCode": "UPS",
                       "trackingNumber": "T", "shipDate": world.now_iso(),
                       "orderItems": [{"orderItemId": item, "quantity": 1}]}  # fmt: skip
            response = world.sp(seller.token, "POST", f"{ORDERS}/{oid}/shipmentConfirmation",
                                 json={"marketplaceId": US, "packageDetail": package})  # fmt: skip
            message = check_error("confirmShipment", response, 400, "InvalidInput")
            assert "packageReferenceId" in message
    finally:
        world.http.post("/_emulator/rate-limits", json={"enabled": True})


def test_mws_order_id_indexes_take_ascii_digits_only(world: World) -> None:
    seller, oid, _ = _shop(world)
    for index in ("١", "²", "9" * 5000):
        response = world.mws(seller, [], extra={f"AmazonOrderId.Id.{index}": oid})
        assert "AmazonOrderId" in mws_error(response, 400, "InvalidParameterValue")
        world.refill()
    same = world.mws(seller, [oid], extra={"AmazonOrderId.Id.01": oid})
    assert "more than once" in mws_error(same, 400, "InvalidParameterValue")


@pytest.mark.parametrize(
    "doc",
    [b'{"a": [1, 2.5, "x", null]}', '{"a": 1}', "\ufeff{}", b"\xef\xbb\xbf{}",
     '{"a": 1}'.encode("utf-16"), '["\u00e9"]'.encode("utf-32"), b"", b"[1,", "nul", b"\xff"],
)  # fmt: skip
def test_the_parser_reads_text_as_json_loads_does(doc: bytes | str) -> None:
    """One shared decoder: what json.loads decodes is the same, what it refuses is refused."""
    try:
        expected = json.loads(doc)
    except json.JSONDecodeError as exc:
        with pytest.raises(inputs.InputError, match=re.escape(f"{exc.msg} at position {exc.pos}")):
            inputs.load_json(doc)
    except UnicodeDecodeError:
        with pytest.raises(inputs.InputError, match="not UTF-8"):
            inputs.load_json(doc)
    else:
        assert inputs.load_json(doc) == expected
