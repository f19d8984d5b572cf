"""End-to-end: the back office. The seller sees, ships and tracks what devices order.

The firmware (MicroPython) orders through DRS; the seller confirms the shipment through
the SP-API with ``drsctl orders confirm-shipment``; the device sees the order move and
close; MWS GetOrder agrees. Plus the ``drsctl orders`` commands one by one: tables and
``--json``, paging, throttling (429, waited out on an injected sleep), refused credentials
and missing configuration. Time only ever moves on the emulator's virtual clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
import socket
import ssl
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from drsctl.backoffice import orders_cli
from drsctl.backoffice.credentials import SpApiCredentials, load_credentials
from drsctl.backoffice.spapi_client import SpApiClient, SpApiError
from drsctl.cli import app
from drsctl.control_client import EmulatorControl
from drsctl.emulator.server import EmulatorThread
from drsctl.sim.consumption import SlotWorld
from drsctl.sim.harness import SimOptions, Simulation
from rich.console import Console
from typer.testing import CliRunner

from host_tests.e2e.helpers import events_named, run_until, state_of
from host_tests.fake_tokens import ACCESS, REFRESH

DAY_TICKS = 24
DRS_REPLENISH = {
    "x-amzn-type-version": "com.amazon.dash.replenishment.DrsReplenishInput@1.0",
    "x-amzn-accept-type": "com.amazon.dash.replenishment.DrsReplenishResult@1.0",
}
SPAPI_VARS = (
    "SPAPI_ENDPOINT",
    "SPAPI_LWA_URL",
    "SPAPI_CLIENT_ID",
    "SPAPI_CLIENT_SECRET",
    "SPAPI_REFRESH_TOKEN",
    "SPAPI_CA_BUNDLE",
)


# -- helpers ------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_wall_clock_waits(monkeypatch):
    """``drsctl orders`` must never sleep here: a test that expects a wait swaps its own in."""
    monkeypatch.setattr(orders_cli, "SLEEP", _no_sleep)


def iso(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def seller_credentials(
    url: str, seller_id: str, name: str = "Acme", verify: ssl.SSLContext | bool = True
) -> dict[str, Any]:
    """Fresh SP-API/MWS credentials of a seller (created if new)."""
    response = httpx.post(
        url + "/_emulator/sellers", json={"name": name, "seller_id": seller_id}, verify=verify
    )
    assert response.status_code == 200, response.text
    return response.json()


def spapi_env(url: str, creds: dict[str, Any], home: Path, **override: str | None) -> dict:
    """The environment ``drsctl orders`` runs with (nothing leaks in from the caller's)."""
    env: dict[str, str | None] = dict.fromkeys(SPAPI_VARS)
    env.update(
        HOME=str(home),
        SPAPI_ENDPOINT=url,
        SPAPI_CLIENT_ID=creds["lwa"]["client_id"],
        SPAPI_CLIENT_SECRET=creds["lwa"]["client_secret"],
        SPAPI_REFRESH_TOKEN=creds["lwa"]["refresh_token"],
    )
    env.update(override)
    return env


def drsctl(env: dict, *args: str):
    """Run ``drsctl`` in-process (the same code path as the console command)."""
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    return result


def replenish(
    url: str, creds: dict[str, Any], slot_id: str, verify: ssl.SSLContext | bool = True
) -> dict[str, Any]:
    """Order a slot's product as the device would (DRS replenish with its own token)."""
    token = httpx.post(
        url + "/auth/o2/token",
        verify=verify,
        data={
            "grant_type": "refresh_token",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
            "refresh_token": creds["refresh_token"],
        },
    ).json()["access_token"]
    response = httpx.post(
        f"{url}/replenish/{slot_id}",
        headers={"Authorization": "Bearer " + token, **DRS_REPLENISH},
        verify=verify,
    )
    assert response.status_code == 200, response.text
    return response.json()


def device_with_orders(
    url: str,
    control: EmulatorControl,
    n: int,
    serial: str = "ACME-0001",
    verify: ssl.SSLContext | bool = True,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Provision an ``acme-x1`` with ``n`` slots and order every one of them."""
    device = control.provision(
        serial=serial, model="acme-x1", slots=[{"id": f"s{i:02d}"} for i in range(n)]
    )
    for i in range(n):
        replenish(url, device, f"s{i:02d}", verify)
        control.advance(60)  # distinct purchase dates, oldest first
    return device, control.orders(device["device_id"])


@pytest.fixture
def acme(emulator, tmp_path: Path):
    """A seller with three open orders, and ``drsctl orders`` wired to it."""
    url, control = emulator
    device, orders = device_with_orders(url, control, 3)
    creds = seller_credentials(url, device["seller_id"])
    return {
        "url": url,
        "control": control,
        "device": device,
        "orders": orders,
        "creds": creds,
        "env": spapi_env(url, creds, tmp_path),
    }


# -- the lifecycle ------------------------------------------------------------


def mws_get_order(url: str, creds: dict[str, Any], seller_id: str, order_id: str) -> ET.Element:
    """MWS ``GetOrder`` signed with Signature Version 2 (HmacSHA256), as MWS clients do."""
    parts = urlsplit(url)
    path = "/Orders/2013-09-01"
    params = {
        "AWSAccessKeyId": creds["mws"]["access_key"],
        "Action": "GetOrder",
        "AmazonOrderId.Id.1": order_id,
        "MWSAuthToken": creds["mws"]["auth_token"],
        "SellerId": seller_id,
        "SignatureMethod": "HmacSHA256",
        "SignatureVersion": "2",
        "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Version": "2013-09-01",
    }
    canonical = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(params.items())
    )
    host = parts.netloc.lower()
    to_sign = "\n".join(["POST", host, path, canonical])
    digest = hmac.new(creds["mws"]["secret_key"].encode(), to_sign.encode(), hashlib.sha256)
    params["Signature"] = base64.b64encode(digest.digest()).decode()
    response = httpx.post(url + path, data=params)
    assert response.status_code == 200, response.text
    return ET.fromstring(response.text)


def _text(root: ET.Element, tag: str) -> str | None:
    """The text of the first element named ``tag`` (any namespace)."""
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == tag:
            return element.text
    return None


@pytest.mark.micropython
def test_lifecycle_device_orders_seller_ships_device_sees_it_close(emulator, tmp_path: Path):
    url, control = emulator
    worlds = [SlotWorld(slot_id="slot-1", daily_use=0.02, noise=0.0)]
    opts = SimOptions(runtime="micropython", slots=1, worlds=worlds, initial_levels=[0.05])
    sim = Simulation(control, url, opts, workdir=tmp_path / "devices")
    with sim:
        # 1. Below its floor, the firmware orders on its second pass (the first reading
        # waits for the next to agree).
        sim.step()
        sim.step()
        [order] = sim.orders()
        order_id, eid = order["amazon_order_id"], order["event_instance_id"]
        assert events_named(sim, "order_placed")[0]["eid"] == eid
        assert order["status"] == "Pending"
        sim.step()
        assert sim.orders()[0]["status"] == "Unshipped", "payment authorized within the hour"

        # 2. The device's brand is its seller: its app sees the order and ships it.
        creds = seller_credentials(url, order["seller_id"], name="Sim appliances")
        env = spapi_env(url, creds, tmp_path)
        listed = drsctl(env, "orders", "list", "--json", "--created-after", iso(opts.start))
        assert listed.exit_code == 0, listed.stderr
        assert [o["AmazonOrderId"] for o in json.loads(listed.stdout)["Orders"]] == [order_id]
        shipped_at = control.now()
        done = drsctl(
            env,
            "orders",
            "confirm-shipment",
            order_id,
            "--carrier",
            "UPS",
            "--tracking",
            "1Z999AA10123456784",
            "--ship-date",
            iso(shipped_at),
            "--json",
        )
        assert done.exit_code == 0, done.stderr
        confirmation = json.loads(done.stdout)
        assert confirmation["packageDetail"]["orderItems"] == [
            {"orderItemId": order["order_item_id"], "quantity": order["quantity"]}
        ], "the items come from getOrderItems"
        assert control.orders(sim.device_id)[0]["status"] == "Shipped"
        got = json.loads(drsctl(env, "orders", "get", order_id, "--json").stdout)
        assert got["OrderStatus"] == "Shipped"

        # 3. The device follows its order through getOrderInfo until it closes.
        run_until(sim, lambda: bool(events_named(sim, "delivered")), max_ticks=4 * DAY_TICKS)
        statuses = [e["status"] for e in events_named(sim, "order_status") if e["eid"] == eid]
        assert "Authorized" in statuses, "the device saw the order move on"
        assert state_of(sim)["slots"]["slot-1"]["st"] in ("delivered", "idle")

        # 4. Delivered: the same order, closed, in every view.
        [final] = sim.orders()
        assert final["delivered_at"] and final["drs_status"] == "Closed"
        assert final["shipped_at"] == shipped_at, "shipped when the seller said, not later"
        got = json.loads(drsctl(env, "orders", "get", order_id, "--json").stdout)
        assert got["OrderStatus"] == "Shipped"
        assert got["NumberOfItemsShipped"] == order["quantity"]
        assert got["NumberOfItemsUnshipped"] == 0
        items = json.loads(drsctl(env, "orders", "items", order_id, "--json").stdout)
        assert items["OrderItems"][0]["QuantityShipped"] == order["quantity"]

        mws = mws_get_order(url, creds, order["seller_id"], order_id)
        assert _text(mws, "AmazonOrderId") == order_id
        assert _text(mws, "OrderStatus") == "Shipped"
        assert _text(mws, "LastUpdateDate") == got["LastUpdateDate"]
        assert not sim.timeline.crashes


# -- the commands one by one ----------------------------------------------------


def test_list_get_items_as_json(acme):
    env, orders = acme["env"], acme["orders"]
    ids = [o["amazon_order_id"] for o in orders]

    listed = drsctl(env, "orders", "list", "--json", "--created-after", "2000-01-01")
    assert listed.exit_code == 0, listed.stderr
    body = json.loads(listed.stdout)
    assert sorted(o["AmazonOrderId"] for o in body["Orders"]) == sorted(ids)
    assert body["NextToken"] is None
    assert {o["OrderStatus"] for o in body["Orders"]} == {"Pending"}

    got = drsctl(env, "orders", "get", ids[0], "--json")
    assert got.exit_code == 0, got.stderr
    order = json.loads(got.stdout)
    assert order["AmazonOrderId"] == ids[0]
    assert order["MarketplaceId"] == "ATVPDKIKX0DER"
    assert order["OrderStatus"] == "Pending" and "OrderTotal" not in order, "no price yet"

    items = drsctl(env, "orders", "items", ids[0], "--json")
    assert items.exit_code == 0, items.stderr
    [item] = json.loads(items.stdout)["OrderItems"]
    assert item["OrderItemId"] == orders[0]["order_item_id"]
    assert item["ASIN"] == orders[0]["asin"]
    assert item["QuantityOrdered"] == orders[0]["quantity"]
    for result in (listed, got, items):
        assert acme["creds"]["lwa"]["client_secret"] not in result.output
        assert acme["creds"]["lwa"]["refresh_token"] not in result.output


def test_status_filter_and_confirm_shipment_table(acme):
    env, control, orders = acme["env"], acme["control"], acme["orders"]
    control.advance(3600)  # payment authorized: Unshipped
    order_id = orders[1]["amazon_order_id"]
    item_id = orders[1]["order_item_id"]

    done = drsctl(
        env,
        "orders",
        "confirm-shipment",
        order_id,
        "--carrier",
        "USPS",
        "--tracking",
        "9400100000000000000000",
        "--package-id",
        "7",
        "--item",
        f"{item_id}:{orders[1]['quantity']}",
        "--ship-date",
        iso(control.now()),
    )
    assert done.exit_code == 0, done.stderr
    assert f"Shipment confirmed for order {order_id}" in done.stdout
    assert "package 7" in done.stdout and "USPS 9400100000000000000000" in done.stdout

    shipped = drsctl(
        env, "orders", "list", "--json", "--status", "Shipped", "--created-after", "2000-01-01"
    )
    assert [o["AmazonOrderId"] for o in json.loads(shipped.stdout)["Orders"]] == [order_id]
    waiting = drsctl(
        env,
        "orders",
        "list",
        "--json",
        "--status",
        "unshipped",
        "--status",
        "Pending",
        "--created-after",
        "2000-01-01",
    )
    assert len(json.loads(waiting.stdout)["Orders"]) == 2

    table = drsctl({**env, "COLUMNS": "160"}, "orders", "list", "--created-after", "2000-01-01")
    assert table.exit_code == 0, table.stderr
    rows = {
        match.group(): line
        for line in table.stdout.splitlines()
        if (match := re.search(r"\d{3}-\d{7}-\d{7}", line))
    }
    assert set(rows) == {o["amazon_order_id"] for o in orders}
    assert "Shipped" in rows[order_id]
    assert "3 orders" in table.stdout

    detail = drsctl({**env, "COLUMNS": "160"}, "orders", "get", order_id)
    assert f"Order {order_id}" in detail.stdout
    assert re.search(r"OrderStatus\s+│\s+Shipped", detail.stdout)
    items = drsctl({**env, "COLUMNS": "160"}, "orders", "items", order_id)
    assert item_id in items.stdout and orders[1]["asin"] in items.stdout


@pytest.mark.parametrize("terminal", [True, False])
def test_order_ids_print_whole_at_80_columns_and_piped(acme, terminal: bool):
    env = {**acme["env"], "COLUMNS": "80", "FORCE_COLOR": "1" if terminal else None}
    done = drsctl(env, "orders", "list", "--created-after", "2000-01-01")
    assert done.exit_code == 0, done.stderr
    for order in acme["orders"]:
        assert order["amazon_order_id"] in done.stdout
    assert "…" not in done.stdout
    if terminal:  # a table that fits the terminal
        plain = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout)
        assert "┃ Order" in plain and all(len(line) <= 80 for line in plain.splitlines())
    else:  # plain columns, every one of them
        assert done.stdout.split()[:2] == ["Order", "Status"] and "Updated (UTC)" in done.stdout


def test_confirm_shipment_defaults_to_the_emulator_clock(acme):
    env, control, order = acme["env"], acme["control"], acme["orders"][0]
    control.advance(3600)  # payment authorized: Unshipped
    now = control.now()
    done = drsctl(
        env,
        "orders",
        "confirm-shipment",
        order["amazon_order_id"],
        "--carrier",
        "UPS",
        "--tracking",
        "1Z999AA10123456784",
        "--json",
    )
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)["packageDetail"]["shipDate"] == iso(now)


def test_confirm_shipment_of_an_unpaid_order_is_an_api_error(acme):
    order_id = acme["orders"][0]["amazon_order_id"]  # still Pending
    done = drsctl(
        acme["env"],
        "orders",
        "confirm-shipment",
        order_id,
        "--carrier",
        "UPS",
        "--tracking",
        "1Z1",
        "--ship-date",
        iso(acme["control"].now()),
    )
    assert done.exit_code == 1
    assert "confirmShipment failed: 400" in done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_order_is_a_clear_404(acme):
    done = drsctl(acme["env"], "orders", "get", "111-0000000-0000000")
    assert done.exit_code == 1
    assert "getOrder failed: 404" in done.stderr


class CountingTransport(httpx.HTTPTransport):
    """A real transport that remembers every request it sent."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return super().handle_request(request)


def test_list_pages_through_many_orders(emulator, tmp_path: Path, monkeypatch):
    url, control = emulator
    device, orders = device_with_orders(url, control, 12)
    creds = seller_credentials(url, device["seller_id"])
    env = spapi_env(url, creds, tmp_path)
    transport = CountingTransport()
    monkeypatch.setattr(orders_cli, "TRANSPORT", transport)
    monkeypatch.setattr(orders_cli, "SLEEP", _no_sleep)

    def pages() -> list[httpx.Request]:
        return [r for r in transport.sent if r.url.path == "/orders/v0/orders"]

    everything = drsctl(
        env, "orders", "list", "--json", "--max-per-page", "5", "--created-after", "2000-01-01"
    )
    assert everything.exit_code == 0, everything.stderr
    body = json.loads(everything.stdout)
    assert sorted(o["AmazonOrderId"] for o in body["Orders"]) == sorted(
        o["amazon_order_id"] for o in orders
    )
    assert body["NextToken"] is None
    assert len(pages()) == 3, "5 + 5 + 2"
    assert "NextToken" not in pages()[0].url.params
    assert all(r.url.params.get("NextToken") for r in pages()[1:])
    assert [r.url.path for r in transport.sent].count("/auth/o2/token") == 1, "token cached"

    transport.sent.clear()
    first = drsctl(
        env,
        "orders",
        "list",
        "--json",
        "--max-per-page",
        "5",
        "--limit",
        "7",
        "--created-after",
        "2000-01-01",
    )
    body = json.loads(first.stdout)
    assert len(body["Orders"]) == 7 and body["NextToken"], "stopped at the limit, can go on"
    assert [r.url.params["MaxResultsPerPage"] for r in pages()] == ["5", "2"], "no overfetch"
    rest = drsctl(
        env,
        "orders",
        "list",
        "--json",
        "--max-per-page",
        "5",
        "--next-token",
        body["NextToken"],
        "--created-after",
        "2000-01-01",
    )
    more = json.loads(rest.stdout)["Orders"]
    seen = [o["AmazonOrderId"] for o in body["Orders"] + more]
    assert sorted(seen) == sorted(o["amazon_order_id"] for o in orders), "no gap, no repeat"


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"unexpected wait of {seconds} s")


def _no_wait(seconds: float, reason: str) -> None:
    raise AssertionError(f"unexpected wait: {reason}")


def drain(client: SpApiClient, call, burst: int) -> None:
    """Use up an operation's burst: the emulator's buckets refill on the virtual clock only."""
    for _ in range(burst):
        call(client)


@pytest.fixture
def as_against_amazon(monkeypatch):
    """Hide that the endpoint is the emulator: throttling is then waited out, as with Amazon."""
    monkeypatch.setattr(SpApiClient, "emulator_clock", lambda self: None)


def test_throttled_call_counts_down_on_the_terminal_then_retries(
    acme, monkeypatch, as_against_amazon
):
    url, control, env = acme["url"], acme["control"], acme["env"]
    order_id = acme["orders"][0]["amazon_order_id"]
    with SpApiClient(load_credentials(env=env), wait=_no_wait) as client:
        drain(client, lambda c: c.get_order(order_id), burst=30)  # getOrder: 0.5/s, burst 30
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # waiting = virtual time passing at the emulator
        slept.append(seconds)
        control.advance(seconds)

    screen = io.StringIO()
    monkeypatch.setattr(orders_cli, "SLEEP", sleep)
    monkeypatch.setattr(orders_cli, "ERR", Console(file=screen, force_terminal=True, width=120))
    transport = CountingTransport()
    monkeypatch.setattr(orders_cli, "TRANSPORT", transport)
    done = drsctl(env, "orders", "get", order_id, "--json")
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)["AmazonOrderId"] == order_id
    assert slept == [1.0, 1.0], "1 / 0.5 requests per second = 2 s, counted down by the second"
    shown = screen.getvalue()
    assert "getOrder throttled (429), retry 1/3: retrying in 2 s" in shown
    assert "retrying in 1 s" in shown
    calls = [r.url.path for r in transport.sent if r.url.path.startswith("/orders")]
    assert calls == [f"/orders/v0/orders/{order_id}"] * 2, "one retry after the wait"
    assert url


def test_still_throttled_gives_up_after_bounded_retries_quietly_off_terminal(
    acme, monkeypatch, as_against_amazon
):
    env = acme["env"]
    with SpApiClient(load_credentials(env=env), wait=_no_wait) as client:
        drain(client, lambda c: c.get_orders(created_after="2000-01-01"), burst=20)
    slept: list[float] = []
    monkeypatch.setattr(orders_cli, "SLEEP", slept.append)  # the clock stands still
    done = drsctl(env, "orders", "list", "--created-after", "2000-01-01")
    assert done.exit_code == 1
    message = " ".join(done.stderr.split())
    assert "getOrders failed: 429 QuotaExceeded" in message
    assert "still throttled after 3 retries" in message
    assert message.count("waiting 59.9 s") == 3, "one plain line per wait (0.0167/s)"
    assert slept == pytest.approx([1 / 0.0167] * 3)
    assert "\x1b[" not in done.stderr, "no animation when stderr is not a terminal"


def test_throttled_by_the_emulator_says_at_once_how_to_go_on(acme, monkeypatch):
    env, control = acme["env"], acme["control"]
    with SpApiClient(load_credentials(env=env), wait=_no_wait) as client:
        drain(client, lambda c: c.get_orders(created_after="2000-01-01"), burst=20)
    slept: list[float] = []
    monkeypatch.setattr(orders_cli, "SLEEP", slept.append)
    done = drsctl(env, "orders", "list", "--created-after", "2000-01-01")
    assert done.exit_code == 1
    message = " ".join(done.stderr.split())
    assert slept == [], "no waiting for a bucket that refills on the virtual clock only"
    assert "throttled (429) by the emulator" in message
    assert "/_emulator/clock" in message and "/_emulator/rate-limits" in message
    assert "Traceback" not in done.stderr
    control.advance(60)  # what the message says to do
    assert drsctl(env, "orders", "list", "--created-after", "2000-01-01").exit_code == 0


def test_bad_refresh_token_names_the_source_not_the_secret(acme):
    bogus = f"{REFRESH}not-a-real-token-" + "x" * 40
    env = {**acme["env"], "SPAPI_REFRESH_TOKEN": bogus}
    done = drsctl(env, "orders", "list")
    assert done.exit_code == 1
    assert "environment (SPAPI_CLIENT_ID, SPAPI_CLIENT_SECRET, SPAPI_REFRESH_TOKEN)" in (
        " ".join(done.stderr.split())
    )
    assert "invalid_grant" in done.stderr
    for secret in (bogus, acme["creds"]["lwa"]["client_secret"]):
        assert secret not in done.output
    assert done.stdout == ""


def test_device_credentials_are_refused_by_the_spapi(acme, tmp_path: Path):
    """A device's LwA app is not a seller app: LwA gives a token, the SP-API says 403."""
    device = acme["device"]
    config = tmp_path / "device.json"
    config.write_text(
        json.dumps(
            {
                "endpoint": acme["url"],
                "client_id": device["client_id"],
                "client_secret": device["client_secret"],
                "refresh_token": device["refresh_token"],
            }
        )
    )
    env = {
        **acme["env"],
        "SPAPI_CLIENT_ID": None,
        "SPAPI_CLIENT_SECRET": None,
        "SPAPI_REFRESH_TOKEN": None,
    }
    done = drsctl(
        env, "orders", "get", acme["orders"][0]["amazon_order_id"], "--config", str(config)
    )
    assert done.exit_code == 1
    message = " ".join(done.stderr.split())
    assert "SP-API denied access (getOrder: 403" in message
    assert f"config file {config}" in message
    for secret in (device["client_secret"], device["refresh_token"]):
        assert secret not in done.output


def test_config_file_works_and_environment_wins(acme, tmp_path: Path):
    creds = acme["creds"]
    config = tmp_path / "spapi.json"
    config.write_text(json.dumps({"endpoint": acme["url"], **creds}))  # the sellers answer
    bare = {**{k: None for k in SPAPI_VARS}, "HOME": str(tmp_path)}
    done = drsctl(
        bare, "orders", "list", "--json", "--config", str(config), "--created-after", "2000-01-01"
    )
    assert done.exit_code == 0, done.stderr
    assert len(json.loads(done.stdout)["Orders"]) == 3

    default = tmp_path / ".config" / "drsctl" / "spapi.json"
    default.parent.mkdir(parents=True)
    config.rename(default)
    wrong = {**bare, "SPAPI_REFRESH_TOKEN": f"{REFRESH}from-the-environment"}
    done = drsctl(wrong, "orders", "list")
    assert done.exit_code == 1
    message = " ".join(done.stderr.split())
    assert "environment (SPAPI_REFRESH_TOKEN)" in message
    assert f"config file {default} (client_id, client_secret)" in message


@pytest.mark.parametrize(
    ("env", "args", "needle"),
    [
        ({}, [], "SPAPI_CLIENT_ID, SPAPI_CLIENT_SECRET, SPAPI_REFRESH_TOKEN"),
        (
            {"SPAPI_CLIENT_ID": "amzn1.application-oa2-client.x", "SPAPI_CLIENT_SECRET": "s3cr3t"},
            [],
            "missing SP-API credentials: set SPAPI_REFRESH_TOKEN",
        ),
        ({}, ["--config", "/nonexistent/spapi.json"], "cannot read config file"),
        (
            {
                "SPAPI_CLIENT_ID": "c",
                "SPAPI_CLIENT_SECRET": "s3cr3t",
                "SPAPI_REFRESH_TOKEN": "r",
                "SPAPI_CA_BUNDLE": "/nonexistent/ca.pem",
            },
            [],
            "CA bundle /nonexistent/ca.pem",
        ),
        (
            {
                "SPAPI_CLIENT_ID": "c",
                "SPAPI_CLIENT_SECRET": "s3cr3t",
                "SPAPI_REFRESH_TOKEN": "r",
                "SPAPI_ENDPOINT": "localhost:8080",
            },
            [],
            "endpoint from environment is not an http",
        ),
    ],
)
def test_missing_or_broken_configuration_exits_2(tmp_path: Path, env, args, needle):
    base = {**{k: None for k in SPAPI_VARS}, "HOME": str(tmp_path), **env}
    done = drsctl(base, "orders", "list", *args)
    assert done.exit_code == 2
    assert needle in " ".join(done.stderr.split())
    assert "s3cr3t" not in done.output
    assert "Traceback" not in done.output


def test_secret_in_a_broken_config_file_is_not_echoed(tmp_path: Path):
    config = tmp_path / "spapi.json"
    config.write_text('{"client_id": "c", "client_secret": "s3cr3t-value" "refresh_token": 1}')
    env = {**dict.fromkeys(SPAPI_VARS), "HOME": str(tmp_path)}
    done = drsctl(env, "orders", "list", "--config", str(config))
    assert done.exit_code == 2
    assert "is not valid JSON (line 1)" in done.stderr
    assert "s3cr3t" not in done.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["list", "--status", "Lost"], "--status"),
        (["list", "--created-after", "yesterday"], "--created-after"),
        (["list", "--max-per-page", "101"], "--max-per-page"),
        (["list", "--created-after", "2030-01-01", "--updated-after", "2030-01-01"], "combined"),
        (
            [
                "confirm-shipment",
                "111-1-1",
                "--carrier",
                "UPS",
                "--tracking",
                "1",
                "--package-id",
                "abc",
            ],
            "--package-id",
        ),
        (
            ["confirm-shipment", "111-1-1", "--carrier", "UPS", "--tracking", "1", "--item", "x:0"],
            "--item",
        ),
        (["confirm-shipment", "111-1-1", "--tracking", "1"], "--carrier"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args, needle):
    env = {
        **{k: None for k in SPAPI_VARS},
        "HOME": str(tmp_path),
        "SPAPI_CLIENT_ID": "c",
        "SPAPI_CLIENT_SECRET": "s",
        "SPAPI_REFRESH_TOKEN": "r",
        "SPAPI_ENDPOINT": "http://127.0.0.1:9",
    }
    done = drsctl(env, "orders", *args)
    assert done.exit_code == 2
    assert needle in done.stderr


def test_https_endpoint_verified_with_the_ca_bundle(tmp_path: Path):
    with EmulatorThread(tmp_path / "tls.sqlite3", tls=True) as emu:
        ca = ssl.create_default_context(cafile=str(emu.ca_pem_path))
        with EmulatorControl(emu.url, verify=ca) as control:
            device, _ = device_with_orders(emu.url, control, 1, verify=ca)
        creds = seller_credentials(emu.url, device["seller_id"], verify=ca)
        env = spapi_env(emu.url, creds, tmp_path, SPAPI_CA_BUNDLE=str(emu.ca_pem_path))
        done = drsctl(env, "orders", "list", "--json", "--created-after", "2000-01-01")
        assert done.exit_code == 0, done.stderr
        assert len(json.loads(done.stdout)["Orders"]) == 1
        unverified = drsctl({**env, "SPAPI_CA_BUNDLE": None}, "orders", "list")
        assert unverified.exit_code == 1
        message = " ".join(unverified.stderr.split())
        assert "cannot reach" in message and "CERTIFICATE_VERIFY_FAILED" in message
        assert "set SPAPI_CA_BUNDLE" in message

        # A config file next to its CA: a relative ca_bundle is relative to the file.
        folder = tmp_path / "backoffice"
        folder.mkdir()
        (folder / "amazon-ca.pem").write_bytes(Path(emu.ca_pem_path).read_bytes())
        config = folder / "spapi.json"
        config.write_text(json.dumps({"endpoint": emu.url, "ca_bundle": "amazon-ca.pem", **creds}))
        bare = {**dict.fromkeys(SPAPI_VARS), "HOME": str(tmp_path)}
        done = drsctl(bare, "orders", "list", "--json", "--config", str(config))
        assert done.exit_code == 0, done.stderr


def test_expired_access_token_is_refreshed_once_in_a_long_session(acme):
    """A back-office process outlives its access token (virtual hours): one refresh, no error."""
    transport = CountingTransport()
    order_id = acme["orders"][0]["amazon_order_id"]
    creds = load_credentials(env=acme["env"])
    with SpApiClient(creds, wait=_no_wait, transport=transport) as client:
        assert client.get_order(order_id)["AmazonOrderId"] == order_id
        acme["control"].advance(2 * 3600)  # the emulator's token expired; our cache does not know
        assert client.get_order(order_id)["AmazonOrderId"] == order_id
    paths = [r.url.path for r in transport.sent]
    assert paths.count("/auth/o2/token") == 2
    assert paths.count(f"/orders/v0/orders/{order_id}") == 3, "403 expired, then the retry"


def test_secrets_echoed_by_a_server_are_redacted():
    """Whatever a server (or proxy) puts in an error, the secrets never reach the user."""
    creds = SpApiCredentials(
        endpoint="https://sp.example",
        lwa_url="https://lwa.example/auth/o2/token",
        client_id="amzn1.application-oa2-client.abc",
        client_secret="cs-very-secret",
        refresh_token=f"{REFRESH}very-secret",
        sources={n: "environment" for n in ("client_id", "client_secret", "refresh_token")},
    )

    def echo(request: httpx.Request) -> httpx.Response:
        if request.url.host == "lwa.example":
            return httpx.Response(
                200, json={"access_token": f"{ACCESS}tok-secret", "expires_in": 3600}
            )
        text = f"bad {request.headers['x-amz-access-token']} {REFRESH}very-secret cs-very-secret"
        return httpx.Response(400, json={"errors": [{"code": "InvalidInput", "message": text}]})

    with SpApiClient(creds, transport=httpx.MockTransport(echo), wait=_no_wait) as client:
        with pytest.raises(SpApiError) as caught:
            client.get_order("111-0000000-0000000")
    message = str(caught.value)
    assert "getOrder failed: 400 InvalidInput: bad *** *** ***" in message
    assert "secret" not in message
    assert "very-secret" not in repr(creds)


def test_unreachable_endpoint_is_reported_once_naming_the_url(acme, monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    env = {**acme["env"], "SPAPI_ENDPOINT": closed, "SPAPI_LWA_URL": acme["url"] + "/auth/o2/token"}
    slept: list[float] = []
    monkeypatch.setattr(orders_cli, "SLEEP", slept.append)
    done = drsctl(env, "orders", "get", acme["orders"][0]["amazon_order_id"])
    assert done.exit_code == 1
    message = " ".join(done.stderr.split())
    assert message.startswith(f"error: cannot reach {closed} (getOrder): ")
    assert "Connection refused" in message and "from environment" in message
    assert slept == [], "a refused connection is said once, not retried"
    assert "Traceback" not in done.stderr
