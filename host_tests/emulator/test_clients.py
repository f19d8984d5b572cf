"""The widely used Python clients, as a back office would use them, over HTTPS.

python-amazon-sp-api hard-codes Amazon's hosts: its ``marketplace`` argument only needs
``endpoint``/``marketplace_id``/``region`` attributes, and ``auth_token_client_class``
chooses the LwA client, whose ``host`` is a class attribute; ``verify`` takes the CA
bundle. ``mws`` takes ``domain=`` and verifies through requests, so
``REQUESTS_CA_BUNDLE`` names the emulator's CA. The clients themselves are unchanged.
"""

import ssl
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import mws
import pytest
from drsctl.emulator.server import EmulatorThread
from sp_api.api import Orders
from sp_api.auth import AccessTokenClient
from sp_api.base import SellingApiException

from host_tests.emulator.seller_world import World


@pytest.fixture(scope="module")
def tls_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with EmulatorThread(tmp_path_factory.mktemp("tls") / "amazon.sqlite3", tls=True) as em:
        assert em.ca_pem_path is not None
        verify = ssl.create_default_context(cafile=str(em.ca_pem_path))
        with httpx.Client(base_url=em.url, verify=verify, timeout=10) as http:
            yield World(em, http)


def sp_api_orders(url: str, ca: Path, lwa: dict[str, str]) -> Any:
    """Return a python-amazon-sp-api Orders v0 client pointed at the emulator."""

    class EmulatorLwA(AccessTokenClient):
        host = url.removeprefix("https://")  # scheme "https://" + host + "/auth/o2/token"

    marketplace = types.SimpleNamespace(
        endpoint=url, marketplace_id="ATVPDKIKX0DER", region="us-east-1"
    )
    return Orders(
        marketplace=marketplace,
        credentials={
            "lwa_app_id": lwa["client_id"],
            "lwa_client_secret": lwa["client_secret"],
            "refresh_token": lwa["refresh_token"],
        },
        verify=ssl.create_default_context(cafile=str(ca)),  # httpx: a context, not a path
        auth_token_client_class=EmulatorLwA,
    )


def test_python_amazon_sp_api(tls_world: World) -> None:
    world = tls_world
    device = world.device(slots=[{"id": "toner", "quantity": 2}, {"id": "drum"}])
    eid = world.replenish(device, "toner")
    pending_eid = world.replenish(device, "drum")
    world.advance(600)
    seller = world.seller(device["seller_id"])
    oid = world.order(eid)["amazon_order_id"]
    assert world.emulator.ca_pem_path is not None
    client = sp_api_orders(world.emulator.url, world.emulator.ca_pem_path, seller.info["lwa"])
    try:
        listed = client.get_orders(CreatedAfter="2020-01-01T00:00:00Z", MaxResultsPerPage=1)
        assert listed.rate_limit == "0.0167"
        assert listed.next_token
        more = client.get_orders(NextToken=listed.next_token)
        found = {o["AmazonOrderId"] for o in listed.payload["Orders"] + more.payload["Orders"]}
        assert oid in found and len(found) == 2
        order = client.get_order(oid).payload
        assert order["OrderStatus"] == "Unshipped" and order["BuyerInfo"] == {}
        pii = client.get_order(oid, RestrictedResources=["buyerInfo", "shippingAddress"]).payload
        assert pii["BuyerInfo"]["BuyerName"] == "Test Customer"
        assert pii["ShippingAddress"]["AddressLine1"]
        bulk = client.get_orders(CreatedAfter="2020-01-01T00:00:00Z",
                                 RestrictedResources=["buyerInfo"])  # fmt: skip
        assert all(o["BuyerInfo"].get("BuyerEmail") for o in bulk.payload["Orders"]
                   if o["OrderStatus"] == "Unshipped")  # fmt: skip
        items = client.get_order_items(oid).payload["OrderItems"]
        assert client.get_order_items(oid, RestrictedResources=["buyerInfo"]).payload
        assert client.get_order_address(oid).payload["ShippingAddress"]["City"]
        assert client.get_order_buyer_info(oid).payload["AmazonOrderId"] == oid
        assert client.get_order_items_buyer_info(oid).payload["OrderItems"]
        confirmed = client.confirm_shipment(
            oid,
            marketplaceId="ATVPDKIKX0DER",
            packageDetail={
                "packageReferenceId": "1",
                "carrierCode": "UPS",
                "trackingNumber": "1Z999AA10123456784",
                "shipDate": world.now_iso(),
                "orderItems": [{"orderItemId": items[0]["OrderItemId"], "quantity": 2}],
            },
        )
        assert confirmed.payload == {"status_code": 204}
        assert client.get_order(oid).payload["OrderStatus"] == "Shipped"
        assert world.drs_status(device, eid) == "Authorized"
        pending = world.order(pending_eid)["amazon_order_id"]
        status = client.update_shipment_status(
            pending, marketplaceId="ATVPDKIKX0DER", shipmentStatus="ReadyForPickup"
        )
        assert status.payload == {"status_code": 204}
        with pytest.raises(SellingApiException) as missing:
            client.get_order("999-0000000-0000000")
        assert (missing.value.code, missing.value.amzn_code) == (404, "NotFound")
        with pytest.raises(SellingApiException) as regulated:
            client.get_order_regulated_info(oid)
        assert regulated.value.code == 400
        with pytest.raises(SellingApiException) as invalid:
            client.get_orders(CreatedAfter="not a date")
        assert (invalid.value.code, invalid.value.amzn_code) == (400, "InvalidInput")
        for _ in range(40):  # getOrder: burst 30, then the client sees the throttle
            try:
                client.get_order(oid)
            except SellingApiException as exc:
                assert exc.code == 429 and exc.amzn_code == "QuotaExceeded"
                break
        else:
            pytest.fail("never throttled")
    finally:
        client.close()
        world.refill()


def test_mws_client(tls_world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world = tls_world
    assert world.emulator.ca_pem_path is not None
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(world.emulator.ca_pem_path))
    device = world.device()
    eid = world.replenish(device)
    world.advance(600)
    seller = world.seller(device["seller_id"])
    oid = world.order(eid)["amazon_order_id"]
    keys = seller.info["mws"]
    client = mws.Orders(
        keys["access_key"],
        keys["secret_key"],
        seller.seller_id,
        domain=world.emulator.url,
        auth_token=keys["auth_token"],
    )
    answer = client.get_order([oid, "111-0000000-0000000"])
    order = answer.parsed.Orders.Order  # mws's ObjectDict: one <Order>, text via attributes
    assert order.AmazonOrderId == oid
    assert order.OrderStatus == "Unshipped"
    assert order.BuyerName == "Test Customer"
    assert order.OrderTotal.Amount == "39.98"  # 2 x 19.99
    bad = mws.Orders(keys["access_key"], "x" * 40, seller.seller_id, domain=world.emulator.url)
    with pytest.raises(mws.MWSError) as refused:
        bad.get_order([oid])
    assert refused.value.response.status_code == 403
    assert "SignatureDoesNotMatch" in str(refused.value)
    for _ in range(6):
        try:
            client.get_order([oid])
        except mws.MWSError as exc:
            assert exc.response.status_code == 503 and "RequestThrottled" in str(exc)
            break
    else:
        pytest.fail("never throttled")
