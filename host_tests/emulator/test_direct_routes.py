"""The device-facing routes served straight from the pipeline answer as through Starlette.

The pipeline matches LwA and DRS paths itself (:class:`.device_route.DeviceRoutes`) and
skips the router, its middleware and ``Request`` objects. Every answer (status, headers
but the request id and date, body) and every request log entry must be the same as when the same
request, on the same database, goes through Starlette's router.
"""

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from drsctl.emulator.device_route import DeviceRoutes, bearer_digest, request_headers
from drsctl.emulator.server import EmulatorThread
from drsctl.emulator.store import Store

from .conftest import drs_headers


def _routes() -> DeviceRoutes:
    return DeviceRoutes(
        [
            ("POST", "/replenish/{slotId}", "replenish"),  # type: ignore[list-item]
            ("GET", "/getOrderInfo/{eventInstanceId}", "info"),
            ("POST", "/deviceStatus", "status"),
            ("POST", "/deviceStatus/{serial}", "status-serial"),
            ("DELETE", "/deviceModels/{model}/devices/{serial}/registration", "v1"),
        ]
    )


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/replenish/toner", ("replenish", {"slotId": "toner"})),
        ("GET", "/getOrderInfo/amzn1.x", ("info", {"eventInstanceId": "amzn1.x"})),
        ("HEAD", "/getOrderInfo/e", ("info", {"eventInstanceId": "e"})),
        ("POST", "/deviceStatus", ("status", {})),
        ("POST", "/deviceStatus/S1", ("status-serial", {"serial": "S1"})),
        ("DELETE", "/deviceModels/m/devices/s/registration", ("v1", {"model": "m", "serial": "s"})),
        ("GET", "/replenish/toner", None),  # wrong method: Starlette answers the 405
        ("POST", "/replenish/", None),  # empty parameter
        ("POST", "/replenish/toner/", None),  # trailing slash: a 404, as Amazon
        ("POST", "/replenish", None),
        ("DELETE", "/deviceModels/m/devices/s/other", None),
        ("POST", "/", None),
        ("POST", "", None),
    ],
)
def test_the_table_matches_like_starlette(method: str, path: str, expected: Any) -> None:
    assert _routes().match(method, path) == expected


def test_headers_and_bearer_digest() -> None:
    scope = {"headers": [(b"Authorization", b"Bearer a"), (b"authorization", b"Bearer b")]}
    assert request_headers(scope) == {"authorization": "Bearer a"}  # the first one wins
    assert bearer_digest("Bearer  tok ") == bearer_digest("bearer tok") is not None
    assert bearer_digest("Basic tok") is None
    assert bearer_digest("Bearer ") is None
    assert bearer_digest(None) is None


@contextlib.contextmanager
def _client(db: Path, direct: bool) -> Iterator[tuple[httpx.Client, Store]]:
    emulator = EmulatorThread(db)
    if not direct:  # every request through Starlette's router, as before the table
        emulator.app.user_middleware[0].kwargs["direct"] = None
    with emulator, httpx.Client(base_url=emulator.url, timeout=10) as client:
        yield client, emulator.store


def _requests(device: dict[str, Any], token: str, event: str) -> list[tuple[Any, ...]]:
    """Requests covering each DRS route's answers, errors and the LwA endpoint."""
    status = {"mostRecentlyActiveDate": "2030-01-01T00:00:00Z"}
    slot = {
        "expectedReplenishmentDate": "2030-01-09T00:00:00Z",
        "remainingQuantityInUnit": 3,
        "originalQuantityInUnit": 10,
        "totalQuantityOnHand": 3,
        "lastUseDate": "2030-01-01T00:00:00Z",
    }
    serial, model = "S-1", "acme-x1"
    v1 = {**drs_headers("subscriptionInfo", token)}
    v1["x-amzn-accept-type"] = v1["x-amzn-accept-type"].replace("@2.0", "@1.0")
    return [
        ("POST", "/replenish/toner", drs_headers("replenish", token), None),
        ("POST", "/replenish/nope", drs_headers("replenish", token), None),
        ("POST", "/replenish/toner", drs_headers("replenish", "wrong"), None),
        ("POST", "/replenish/toner", drs_headers("replenish", None), None),
        ("POST", "/replenish/toner", {"Authorization": f"Bearer {token}"}, None),
        ("POST", "/replenish/toner", drs_headers("getOrderInfo", token), None),
        ("GET", f"/getOrderInfo/{event}", drs_headers("getOrderInfo", token), None),
        ("HEAD", f"/getOrderInfo/{event}", drs_headers("getOrderInfo", token), None),
        ("GET", "/getOrderInfo/unknown", drs_headers("getOrderInfo", token), None),
        ("GET", "/replenish/toner", drs_headers("replenish", token), None),
        ("POST", "/replenish/toner/", drs_headers("replenish", token), None),
        ("POST", "/deviceStatus", drs_headers("deviceStatus", token), status),
        ("POST", f"/deviceStatus/{serial}", drs_headers("deviceStatus", token), status),
        ("POST", "/deviceStatus/other", drs_headers("deviceStatus", token), status),
        ("POST", "/deviceStatus", drs_headers("deviceStatus", token), {"x": 1}),
        ("POST", "/slotStatus/toner", drs_headers("slotStatus", token), slot),
        ("GET", "/subscriptionInfo", drs_headers("subscriptionInfo", token), None),
        ("GET", "/subscriptionInfo", v1, None),
        ("DELETE", "/testOrders/slots/toner", drs_headers("testOrders", token), None),
        ("DELETE", "/testOrders", drs_headers("testOrders", token), None),
        ("POST", "/auth/o2/token", {"Content-Type": "text/plain"}, None),
        ("GET", "/auth/o2/token", {}, None),
        ("DELETE", f"/deviceModels/{model}/devices/x/registration",
         drs_headers("registration", token), None),
        ("DELETE", "/registration", drs_headers("registration", token), None),
        ("POST", "/replenish/toner", drs_headers("replenish", token), None),
    ]  # fmt: skip


_VARYING = {"x-amzn-requestid", "date"}  # drawn per request; the server's wall clock


def _answers(client: httpx.Client, requests: list[tuple[Any, ...]]) -> list[Any]:
    answers = []
    for method, path, headers, body in requests:
        answer = client.request(method, path, headers=headers, json=body)
        kept = sorted((k, v) for k, v in answer.headers.items() if k not in _VARYING)
        assert answer.headers["x-amzn-requestid"]
        answers.append((method, path, answer.status_code, kept, answer.content))
    return answers


def _log(db: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT t, method, path, route, status, device_id, fault FROM requests ORDER BY id"
        ).fetchall()


def test_direct_answers_equal_the_routers(tmp_path: Path) -> None:
    first, second = tmp_path / "direct.sqlite3", tmp_path / "router.sqlite3"
    with _client(first, direct=True) as (client, _):
        device = client.post(
            "/_emulator/provision",
            json={"serial": "S-1", "model": "acme-x1", "slots": [{"id": "toner"}],
                  "test_orders": True},
        ).json()  # fmt: skip
        grant = client.post(
            "/auth/o2/token",
            data={"grant_type": "refresh_token",
                  **{k: device[k] for k in ("client_id", "client_secret", "refresh_token")}},
        )  # fmt: skip
        token = grant.json()["access_token"]
        placed = client.post("/replenish/toner", headers=drs_headers("replenish", token))
        event = placed.json()["eventInstanceId"]
        with contextlib.closing(sqlite3.connect(first)) as source:
            with contextlib.closing(sqlite3.connect(second)) as copy:
                source.backup(copy)  # the emulator is idle between requests
        requests = _requests(device, token, event)
        direct = _answers(client, requests)
    logged_before = len(_log(second))
    with _client(second, direct=False) as (client, _):
        routed = _answers(client, requests)
    assert direct == routed
    assert {a[2] for a in direct} >= {200, 400, 404, 405}  # the requests cover errors too
    assert _log(first)[logged_before:] == _log(second)[logged_before:]
    unrouted = 3  # GET /replenish/toner and GET /auth/o2/token (405), a trailing slash (404)
    assert len(_log(first)) == logged_before + len(requests) - unrouted
