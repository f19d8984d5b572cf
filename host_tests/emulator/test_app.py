"""Malformed or unexpected requests get a 4xx JSON answer; surprises a 500 without traceback."""

import socket
import uuid

import httpx
import pytest
from drsctl.emulator import clock, orders
from drsctl.emulator.server import EmulatorThread


def test_unknown_path_is_json_404(http) -> None:
    for path in ("/nope", "/replenish", "/_emulator/nope", "/getOrderInfo/a/b"):
        response = http.get(path)
        assert response.status_code == 404, path
        assert response.json() == {"message": "Not Found"}


def test_wrong_method_is_json_405(http, device) -> None:
    for method, path in [
        ("GET", "/replenish/toner-black"),
        ("POST", "/getOrderInfo/x"),
        ("PUT", "/_emulator/clock"),
        ("GET", "/_emulator/provision"),
    ]:
        response = http.request(method, path, headers=device.headers("replenish"))
        assert response.status_code == 405, (method, path)
        assert response.json() == {"message": "Method Not Allowed"}
        assert response.headers["allow"]
    assert device.orders() == []


def test_wrong_method_on_lwa_is_405_in_lwa_shape(http) -> None:
    response = http.get("/auth/o2/token")
    assert response.status_code == 405
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "Method Not Allowed",
    }
    assert response.headers["x-amzn-RequestId"]


def test_request_ids_are_distinct_random_uuids(http, device) -> None:
    answers = [device.replenish(), device.replenish(), http.get("/auth/o2/token")]
    sent = [answer.headers["x-amzn-RequestId"] for answer in answers]
    parsed = [uuid.UUID(text) for text in sent]
    assert [str(u) for u in parsed] == sent
    assert {(u.version, u.variant) for u in parsed} == {(4, uuid.RFC_4122)}
    assert len(set(sent)) == len(sent)


def test_trailing_slash_is_an_unknown_path_not_a_redirect(http, device) -> None:
    for method, path in [("POST", "/replenish/toner-black/"), ("POST", "/_emulator/clock/")]:
        response = http.request(method, path, headers=device.headers("replenish"))
        assert response.status_code == 404, (method, path, response.headers)
        assert response.json() == {"message": "Not Found"}
        assert "location" not in response.headers
    assert device.orders() == []


@pytest.mark.parametrize("body", [b"{bad", b"[1]", b"\xff\xfe", b'"text"'])
def test_bad_control_json_is_400(http, body) -> None:
    for path in ("/_emulator/provision", "/_emulator/clock", "/_emulator/faults"):
        response = http.post(path, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 400, path
        assert response.json()["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"slots": [{"id": "a"}]},
        {"serial": "", "slots": [{"id": "a"}]},
        {"serial": "S", "slots": []},
        {"serial": "S", "slots": [{"id": "a"}, {"id": "a"}]},
        {"serial": "S", "slots": [{"id": "a/b"}]},
        {"serial": "S", "slots": [{"id": "a", "quantity": 0}]},
        {"serial": "S", "slots": [{"id": "a", "quantity": "2"}]},
        {"serial": "S", "slots": ["a"]},
        {"serial": "S", "slots": [{"id": "a"}], "test_orders": "yes"},
    ],
)
def test_provision_validates(http, body) -> None:
    response = http.post("/_emulator/provision", json=body)
    assert response.status_code == 400
    assert response.json()["message"]
    assert http.get("/_emulator/orders").json() == {"orders": []}


def test_devices_need_known_customer_and_client(http) -> None:
    client = http.post("/_emulator/clients", json={}).json()
    response = http.post(
        "/_emulator/devices",
        json={"customer_id": "amzn1.account.X", "client_id": client["client_id"],
              "serial": "S", "slots": [{"id": "a"}]},
    )  # fmt: skip
    assert response.status_code == 400
    assert "Customer" in response.json()["message"]
    assert http.post("/_emulator/authcodes", json={"device_id": "nope"}).status_code == 404
    assert http.get("/_emulator/slot-status").status_code == 400
    assert http.get("/_emulator/slot-status", params={"device_id": "x"}).status_code == 404
    assert http.get("/_emulator/requests", params={"since": "abc"}).status_code == 400


def test_oversized_bodies_are_413(http, device) -> None:
    big = b"x" * (64 * 1024 + 1)
    response = http.post("/_emulator/clock", content=big)
    assert response.status_code == 413
    assert "exceeds" in response.json()["message"]

    def chunks():  # no Content-Length: the limit applies while reading
        for _ in range(80):
            yield b"y" * 1024

    streamed = http.post("/slotStatus/toner-black", content=chunks(),
                         headers=device.headers("slotStatus"))  # fmt: skip
    assert streamed.status_code == 413
    assert streamed.json()["message"]


def test_garbage_on_the_wire_is_not_a_500(emulator) -> None:
    host, port = emulator.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 400")


def test_unexpected_error_in_drs_is_a_clean_500(http, device, monkeypatch) -> None:
    def explode(*args, **kwargs):
        raise RuntimeError("boom with internals")

    monkeypatch.setattr(orders, "place", explode)
    response = device.replenish()
    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}
    assert "boom" not in response.text and "Traceback" not in response.text
    assert http.get("/_emulator/requests").json()["requests"][-1]["status"] == 500
    assert device.orders() == []  # the transaction rolled back


def test_unexpected_error_in_control_is_a_clean_500(http, monkeypatch) -> None:
    def explode(*args, **kwargs):
        raise RuntimeError("boom with internals")

    monkeypatch.setattr(clock, "advance", explode)
    response = http.post("/_emulator/clock", json={"advance": 5})
    assert response.status_code == 500
    assert response.json() == {"message": "Internal server error"}
    assert "boom" not in response.text


def test_state_survives_a_restart(tmp_path) -> None:
    db = tmp_path / "amazon.sqlite3"
    with EmulatorThread(db) as first, httpx.Client(base_url=first.url) as http:
        info = http.post("/_emulator/provision", json={"serial": "P-1", "slots": [{"id": "a"}]})
        now = http.post("/_emulator/clock", json={"advance": 1234}).json()["now"]
        http.post("/_emulator/settings", json={"delivery_days": 4})
    with EmulatorThread(db) as second, httpx.Client(base_url=second.url) as http:
        assert second.url != ""
        assert http.get("/_emulator/clock").json()["now"] == now
        assert http.get("/_emulator/settings").json()["delivery_days"] == 4
        grant = http.post(
            "/auth/o2/token",
            data={"grant_type": "refresh_token", "refresh_token": info.json()["refresh_token"],
                  "client_id": info.json()["client_id"],
                  "client_secret": info.json()["client_secret"]},
        )  # fmt: skip
        assert grant.status_code == 200
        with second.store.tx() as tx:  # the store holds digests, never the secrets
            assert tx.client(info.json()["client_id"]).secret_hash != info.json()["client_secret"]
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("amazon.sqlite3*"))
    assert info.json()["device_id"].encode() in raw  # the data is there...
    for secret in ("client_secret", "refresh_token"):
        assert info.json()[secret].encode() not in raw  # ...the secrets are not
