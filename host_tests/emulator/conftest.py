"""Fixtures: a live emulator over real HTTP, a provisioned device and a small DRS client.

The header values below are copied from the seeds and the contract on purpose (not
imported from the emulator), so a wrong value in the emulator makes tests fail.
"""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from drsctl.emulator.server import EmulatorThread

P = "com.amazon.dash.replenishment."
VERSIONS = {
    "replenish": ("DrsReplenishInput@1.0", "DrsReplenishResult@1.0"),
    "getOrderInfo": ("DrsOrderInfoInput@1.0", "DrsOrderInfoResult@1.0"),
    "slotStatus": ("DrsSlotStatusInput@1.0", "DrsSlotStatusResult@1.0"),
    "deviceStatus": ("DrsDeviceStatusInput@1.0", "DrsDeviceStatusResult@1.0"),
    "subscriptionInfo": ("DrsSubscriptionInfoInput@1.0", "DrsSubscriptionInfoResult@2.0"),
    "registration": ("DrsDeregisterInput@2.0", "DrsDeregisterResult@1.0"),
    "testOrders": ("DrsCancelTestOrdersInput@1.0", "DrsCancelTestOrdersResult@1.0"),
}


def drs_headers(route: str, token: str | None) -> dict[str, str]:
    """Return the exact header pair of a DRS route (+ bearer token)."""
    type_version, accept = VERSIONS[route]
    headers = {"x-amzn-type-version": P + type_version, "x-amzn-accept-type": P + accept}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll ``predicate`` until it returns something truthy (for server-side effects)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


@dataclass
class Device:
    """A provisioned device and how to talk DRS as it."""

    http: httpx.Client
    info: dict[str, Any]
    access_token: str

    @property
    def device_id(self) -> str:
        return self.info["device_id"]

    def refresh(self) -> httpx.Response:
        """Run the refresh-token grant with this device's credentials."""
        return self.http.post(
            "/auth/o2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": self.info["refresh_token"],
                "client_id": self.info["client_id"],
                "client_secret": self.info["client_secret"],
            },
        )

    def renew(self) -> None:
        """Fetch a fresh access token (after moving the clock past its lifetime)."""
        grant = self.refresh()
        assert grant.status_code == 200, grant.text
        self.access_token = grant.json()["access_token"]

    def headers(self, route: str, token: str | None = "") -> dict[str, str]:
        """Return a DRS route's headers (``token=""``: this device's token; None: none)."""
        return drs_headers(route, self.access_token if token == "" else token)

    def call(self, route: str, path: str, token: str | None = "", **kwargs: Any) -> httpx.Response:
        """Call a DRS route with the right headers (``token=""``: this device's token)."""
        method = {
            "getOrderInfo": "GET",
            "subscriptionInfo": "GET",
            "registration": "DELETE",
            "testOrders": "DELETE",
        }.get(route, "POST")
        headers = self.headers(route, token)
        headers.update(kwargs.pop("headers", {}))
        return self.http.request(method, path, headers=headers, **kwargs)

    def orders(self) -> list[dict[str, Any]]:
        """Return this device's orders from the control API."""
        params = {"device_id": self.device_id}
        return self.http.get("/_emulator/orders", params=params).json()["orders"]

    def replenish(self, slot: str = "toner-black") -> httpx.Response:
        return self.call("replenish", f"/replenish/{slot}")

    def order_info(self, event_instance_id: str) -> httpx.Response:
        return self.call("getOrderInfo", f"/getOrderInfo/{event_instance_id}")


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[EmulatorThread]:
    with EmulatorThread(tmp_path / "amazon.sqlite3") as em:
        yield em


@pytest.fixture
def http(emulator: EmulatorThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, timeout=5.0) as client:
        yield client


@pytest.fixture
def provision(http: httpx.Client) -> Callable[..., Device]:
    """Return a factory: provision a device and fetch its first access token."""

    def make(serial: str = "PRN-000123", test_orders: bool = False, **extra: Any) -> Device:
        body = {
            "serial": serial,
            "model": "acme-x1",
            "slots": [{"id": "toner-black", "asin": "B00TONERBK", "quantity": 2}, {"id": "drum"}],
            "test_orders": test_orders,
            **extra,
        }
        response = http.post("/_emulator/provision", json=body)
        assert response.status_code == 200, response.text
        device = Device(http, response.json(), "")
        device.renew()
        return device

    return make


@pytest.fixture
def device(provision: Callable[..., Device]) -> Device:
    return provision()


@pytest.fixture
def advance(http: httpx.Client) -> Callable[[float], int]:
    """Return a function that advances the virtual clock and returns the new time."""

    def move(seconds: float) -> int:
        response = http.post("/_emulator/clock", json={"advance": seconds})
        assert response.status_code == 200, response.text
        return response.json()["now"]

    return move


@pytest.fixture(name="wait_for")
def wait_for_fixture() -> Callable[..., Any]:
    return wait_for


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One emulator per test module for the back-office tests (see ``seller_world.py``)."""
    from host_tests.emulator.seller_world import World

    with EmulatorThread(tmp_path_factory.mktemp("backoffice") / "amazon.sqlite3") as em:
        with httpx.Client(base_url=em.url, timeout=10.0) as client:
            yield World(em, client)
