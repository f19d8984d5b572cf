"""Fault injection: status answers, hangs, dropped connections, malformed bodies."""

import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from drsctl.emulator.server import EmulatorThread
from drsctl.emulator.store import Fault, Store


def arm(http: httpx.Client, **fault) -> int:
    response = http.post("/_emulator/faults", json=fault)
    assert response.status_code == 200, response.text
    return response.json()["fault_id"]


def last_request(http: httpx.Client) -> dict:
    return http.get("/_emulator/requests").json()["requests"][-1]


def holding(http: httpx.Client) -> int:
    return http.get("/_emulator/faults").json()["holding"]


def test_status_fault_for_the_next_n_calls(http, device) -> None:
    arm(http, route="replenish", kind="status", status=503, count=2)
    for _ in range(2):
        response = device.replenish()
        assert response.status_code == 503
        assert response.json() == {"message": "Service Unavailable"}
        assert response.headers["x-amzn-ErrorType"] == "ServiceUnavailableException"
    assert device.orders() == []
    entry = last_request(http)
    assert (entry["fault"], entry["status"], entry["device_id"]) == (
        "status",
        503,
        device.device_id,
    )
    assert device.replenish().json()["detailCode"] == "STANDARD_ORDER_PLACED"
    assert http.get("/_emulator/faults").json()["faults"] == []


def test_status_fault_only_hits_its_route(http, device) -> None:
    arm(http, route="getOrderInfo", kind="status", status=500)
    assert device.call("subscriptionInfo", "/subscriptionInfo").status_code == 200
    eid = device.replenish().json()["eventInstanceId"]
    response = device.order_info(eid)
    assert response.status_code == 500
    assert response.headers["x-amzn-ErrorType"] == "InternalFailure"
    assert device.order_info(eid).status_code == 200


def test_token_route_fault_has_lwa_shape(http, device) -> None:
    arm(http, route="token", kind="status", status=500)
    response = device.refresh()
    assert response.status_code == 500
    assert response.json() == {
        "error": "server_error",
        "error_description": "Internal Server Error",
    }


def test_wildcard_throttling(http, device) -> None:
    arm(http, route="*", kind="status", status=429, count=2)
    first = device.call("subscriptionInfo", "/subscriptionInfo")
    assert first.status_code == 429
    assert first.headers["x-amzn-ErrorType"] == "ThrottlingException"
    second = device.refresh()
    assert second.status_code == 429
    assert second.json()["error"] == "temporarily_unavailable"
    assert device.call("subscriptionInfo", "/subscriptionInfo").status_code == 200


def test_status_after_commits_the_order(http, device) -> None:
    arm(http, route="replenish", kind="status", status=500, after=True)
    assert device.replenish().status_code == 500
    [order] = device.orders()
    retry = device.replenish().json()
    assert retry == {
        "eventInstanceId": order["event_instance_id"],
        "detailCode": "ORDER_INPROGRESS",
    }


def test_hang_until_released(http, device, wait_for) -> None:
    arm(http, route="replenish", kind="hang")
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(device.replenish)
        wait_for(lambda: holding(http) == 1)
        assert not pending.done()
        assert device.orders() == []  # before the handler
        assert http.post("/_emulator/faults/release").json() == {"released": 1}
        response = pending.result(timeout=5)
    assert response.status_code == 200
    assert response.json()["detailCode"] == "STANDARD_ORDER_PLACED"
    assert len(device.orders()) == 1
    assert holding(http) == 0
    entry = last_request(http)
    assert (entry["fault"], entry["status"]) == ("hang", 200)


def test_hang_ends_when_the_client_gives_up(http, emulator, device, wait_for) -> None:
    arm(http, route="replenish", kind="hang")
    with httpx.Client(base_url=emulator.url, timeout=0.3) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            impatient.post("/replenish/toner-black", headers=device.headers("replenish"))
    wait_for(lambda: holding(http) == 0)
    entry = wait_for(lambda: [e for e in [last_request(http)] if e["fault"] == "hang"])[0]
    assert entry["status"] is None
    assert entry["device_id"] == device.device_id
    assert device.orders() == []  # the handler never ran
    assert http.post("/_emulator/faults/release").json() == {"released": 0}


def test_hang_after_commits_then_holds(http, emulator, device, wait_for) -> None:
    arm(http, route="replenish", kind="hang", after=True)
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(device.replenish)
        wait_for(lambda: holding(http) == 1)
        [order] = device.orders()  # committed while the client still waits
        http.post("/_emulator/faults/release")
        response = pending.result(timeout=5)
    assert response.json() == {
        "eventInstanceId": order["event_instance_id"],
        "detailCode": "STANDARD_ORDER_PLACED",
    }


@pytest.mark.parametrize("after", [False, True])
def test_drop_is_a_broken_response(http, device, after) -> None:
    arm(http, route="replenish", kind="drop", after=after)
    with pytest.raises(httpx.RemoteProtocolError, match="incomplete|complete message body"):
        device.replenish()
    entry = last_request(http)
    assert (entry["fault"], entry["status"]) == ("drop", 200)
    orders = device.orders()
    assert len(orders) == (1 if after else 0)
    retry = device.replenish().json()
    if after:
        assert retry == {"eventInstanceId": orders[0]["event_instance_id"],
                         "detailCode": "ORDER_INPROGRESS"}  # fmt: skip
    else:
        assert retry["detailCode"] == "STANDARD_ORDER_PLACED"


def test_drop_on_a_raw_socket_is_truncated(http, emulator, device) -> None:
    """The head promises more bytes than arrive before the server closes the socket."""
    arm(http, route="subscriptionInfo", kind="drop", after=True)
    host, port = emulator.url.removeprefix("http://").split(":")
    lines = ["GET /subscriptionInfo HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in device.headers("subscriptionInfo").items()]
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(
        next(
            line.split(b":")[1]
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
    )
    assert head.startswith(b"HTTP/1.1 200")
    assert 0 < len(body) < length
    assert body.startswith(b'{"slotsSubscriptionStatus"')


@pytest.mark.parametrize("after", [False, True])
def test_malformed_body(http, device, after) -> None:
    arm(http, route="replenish", kind="malformed", after=after)
    response = device.replenish()
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    assert len(device.orders()) == (1 if after else 0)
    if after:
        assert response.text.startswith('{"eventInstanceId"')
    assert last_request(http)["fault"] == "malformed"


def test_fault_control_validation_and_clear(http) -> None:
    for bad in (
        {"route": "nope", "kind": "status"},
        {"route": "replenish", "kind": "explode"},
        {"route": "replenish", "kind": "status", "status": 200},
        {"route": "replenish", "kind": "status", "count": 0},
        {"kind": "status"},
        {"route": "replenish", "kind": "hang", "after": "yes"},
    ):
        response = http.post("/_emulator/faults", json=bad)
        assert response.status_code == 400, bad
    first = arm(http, route="replenish", kind="status", count=3)
    second = arm(http, route="*", kind="drop")
    listed = http.get("/_emulator/faults").json()
    assert [(f["fault_id"], f["remaining"]) for f in listed["faults"]] == [(first, 3), (second, 1)]
    assert http.delete("/_emulator/faults").json() == {"cleared": 2}
    assert http.get("/_emulator/faults").json()["faults"] == []


def test_stop_answers_a_held_request_in_the_service_shape(tmp_path) -> None:
    emulator = EmulatorThread(tmp_path / "db.sqlite3").start()
    with httpx.Client(base_url=emulator.url, timeout=5) as http:
        arm(http, route="token", kind="hang")
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(http.post, "/auth/o2/token", data={"grant_type": "x"})
            deadline = time.monotonic() + 5
            while holding(http) == 0:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            started = time.monotonic()
            emulator.stop()
            assert time.monotonic() - started < 1.5
            answer = pending.result(timeout=5)
            assert answer.status_code == 503
            assert answer.json() == {
                "error": "temporarily_unavailable",
                "error_description": "Service Unavailable",
            }


def test_fault_lookup_skipped_only_while_none_can_be_armed(tmp_path) -> None:
    store = Store(tmp_path / "db.sqlite3")
    with store.tx() as tx:
        assert tx.take_fault("replenish") is None  # none armed: later lookups are skipped
        tx.insert_fault(Fault("replenish", "status", 503, 1, False, tx.now()))
    with pytest.raises(RuntimeError), store.tx() as tx:
        assert tx.take_fault("replenish") is not None
        assert tx.take_fault("replenish") is None  # its last use taken
        raise RuntimeError("rolled back: the use is given back")
    with store.tx() as tx:
        assert tx.take_fault("getOrderInfo") is None
        assert tx.take_fault("replenish") is not None
        assert tx.take_fault("replenish") is None
    store.close()
