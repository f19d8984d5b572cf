"""A back office's view of one emulator: devices that order, sellers that read the orders.

One :class:`World` is shared by a test module (module-scoped fixture ``world`` in
``conftest.py``); tests create their own devices and sellers in it, so they never see
each other's orders, and refill the rate-limit buckets when they need full ones.
"""

import base64
import hashlib
import hmac
import itertools
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from drsctl.emulator import orders as emu_orders
from drsctl.emulator.server import EmulatorThread

P = "com.amazon.dash.replenishment."
US = "ATVPDKIKX0DER"
ORDERS = "/orders/v0/orders"
MWS_NS = {"m": "https://mws.amazonservices.com/Orders/2013-09-01"}
_serials = itertools.count(1)
_brands = itertools.count(1)


@dataclass
class Seller:
    """A seller's credentials and a fresh SP-API access token."""

    info: dict[str, Any] = field(repr=False)  # credentials: never in a failing test's output
    token: str = field(default="", repr=False)

    @property
    def seller_id(self) -> str:
        return str(self.info["seller_id"])


@dataclass
class World:
    """Helpers over one running emulator."""

    emulator: EmulatorThread
    http: httpx.Client
    sellers: dict[str, Seller] = field(default_factory=dict)

    # -- clock, limits -----------------------------------------------------------
    def now(self) -> int:
        return int(self.http.get("/_emulator/clock").json()["now"])

    def now_iso(self) -> str:
        """Return the emulator's time as SP-API writes dates (a ship date that is not early)."""
        return str(self.http.get("/_emulator/clock").json()["iso"])

    def advance(self, seconds: float) -> int:
        response = self.http.post("/_emulator/clock", json={"advance": seconds})
        assert response.status_code == 200, response.text
        return int(response.json()["now"])

    def refill(self) -> None:
        assert self.http.delete("/_emulator/rate-limits").status_code == 200

    # -- devices -------------------------------------------------------------------
    def device(self, brand: str | None = None, **extra: Any) -> dict[str, Any]:
        """Provision a device of a new brand (so a new seller) unless ``brand`` is given."""
        brand = brand or f"brand{next(_brands)}x"
        body = {
            "serial": f"SER-{next(_serials):06d}",
            "model": f"{brand}-m1",
            "slots": [{"id": "toner", "asin": "B00TONER01", "quantity": 2, "price": "19.99"}],
            **extra,
        }
        response = self.http.post("/_emulator/provision", json=body)
        assert response.status_code == 200, response.text
        info = response.json()
        info["access_token"] = self.lwa(
            info["client_id"], info["client_secret"], info["refresh_token"]
        )
        return info

    def lwa(self, client_id: str, client_secret: str, refresh_token: str) -> str:
        response = self.http.post(
            "/auth/o2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": client_id,
                "client_secret": client_secret,
            },
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def drs(self, device: dict[str, Any], method: str, path: str, route: tuple[str, str]) -> Any:
        device["access_token"] = self.lwa(
            device["client_id"], device["client_secret"], device["refresh_token"]
        )
        headers = {
            "Authorization": f"Bearer {device['access_token']}",
            "x-amzn-type-version": P + route[0],
            "x-amzn-accept-type": P + route[1],
        }
        response = self.http.request(method, path, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    def replenish(self, device: dict[str, Any], slot: str = "toner") -> str:
        body = self.drs(
            device,
            "POST",
            f"/replenish/{slot}",
            ("DrsReplenishInput@1.0", "DrsReplenishResult@1.0"),
        )
        return str(body["eventInstanceId"])

    def drs_status(self, device: dict[str, Any], eid: str) -> str:
        body = self.drs(
            device,
            "GET",
            f"/getOrderInfo/{eid}",
            ("DrsOrderInfoInput@1.0", "DrsOrderInfoResult@1.0"),
        )
        return str(body["orderInfoData"]["orderItems"][0]["status"])

    def order(self, eid: str) -> dict[str, Any]:
        """Return the control API's view of an order by event instance id."""
        found = [o for o in self.http.get("/_emulator/orders").json()["orders"]
                 if o["event_instance_id"] == eid]  # fmt: skip
        assert len(found) == 1
        return found[0]

    def place_orders(self, device: dict[str, Any], count: int) -> None:
        """Create ``count`` orders for a device with that many slots, straight in the store."""
        with self.emulator.store.tx() as tx:
            record = tx.device(device["device_id"])
            assert record is not None
            slots = tx.slots(record.device_id)
            assert len(slots) >= count
            now = tx.now()
            for slot in slots[:count]:
                emu_orders.place(tx, record, slot, now)

    # -- sellers -------------------------------------------------------------------
    def seller(self, seller_id: str, name: str = "Acme") -> Seller:
        """Register (or re-credential) a seller and fetch its SP-API token."""
        response = self.http.post("/_emulator/sellers", json={"name": name, "seller_id": seller_id})
        assert response.status_code == 200, response.text
        seller = Seller(response.json())
        self.renew(seller)
        self.sellers[seller_id] = seller
        return seller

    def renew(self, seller: Seller) -> str:
        lwa = seller.info["lwa"]
        seller.token = self.lwa(lwa["client_id"], lwa["client_secret"], lwa["refresh_token"])
        return seller.token

    def sp(self, token: str | None, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["x-amz-access-token"] = token
        return self.http.request(method, path, headers=headers, **kwargs)

    def get_orders(self, seller: Seller, **params: Any) -> httpx.Response:
        params.setdefault("MarketplaceIds", US)
        return self.sp(seller.token, "GET", ORDERS, params=params)

    def rdt(self, seller: Seller, resources: list[dict[str, Any]]) -> str:
        response = self.sp(
            seller.token,
            "POST",
            "/tokens/2021-03-01/restrictedDataToken",
            json={"restrictedResources": resources},
        )
        assert response.status_code == 200, response.text
        return str(response.json()["restrictedDataToken"])

    # -- MWS -----------------------------------------------------------------------
    def mws(
        self,
        seller: Seller,
        order_ids: list[str],
        *,
        method: str = "POST",
        secret: str | None = None,
        host: str | None = None,
        timestamp: str | None = None,
        extra: dict[str, str] | None = None,
        drop: tuple[str, ...] = (),
    ) -> httpx.Response:
        """Send a signed GetOrder (our own SigV2 implementation, independent of the emulator)."""
        keys = seller.info["mws"]
        params = {
            "AWSAccessKeyId": keys["access_key"],
            "Action": "GetOrder",
            "SellerId": seller.seller_id,
            "MWSAuthToken": keys["auth_token"],
            "SignatureVersion": "2",
            "SignatureMethod": "HmacSHA256",
            "Timestamp": timestamp or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2013-09-01",
        }
        for i, order_id in enumerate(order_ids, 1):
            params[f"AmazonOrderId.Id.{i}"] = order_id
        params.update(extra or {})
        for name in drop:
            params.pop(name, None)
        sign_host = host or self.emulator.url.split("://", 1)[1]
        query = "&".join(
            f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(params.items())
        )
        to_sign = "\n".join([method, sign_host.lower(), "/Orders/2013-09-01", query])
        mac = hmac.new((secret or keys["secret_key"]).encode(), to_sign.encode(), hashlib.sha256)
        query += "&Signature=" + quote(base64.b64encode(mac.digest()).decode(), safe="-_.~")
        if method == "GET":
            return self.http.get("/Orders/2013-09-01?" + query)
        return self.http.post(
            "/Orders/2013-09-01",
            content=query,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )


def mws_orders(response: httpx.Response) -> list[ET.Element]:
    """Parse a GetOrder answer; return its ``Order`` elements."""
    assert response.status_code == 200, response.text
    root = ET.fromstring(response.text)
    assert root.tag == f"{{{MWS_NS['m']}}}GetOrderResponse"
    assert root.find("m:ResponseMetadata/m:RequestId", MWS_NS) is not None
    return root.findall("m:GetOrderResult/m:Orders/m:Order", MWS_NS)


def mws_error(response: httpx.Response, status: int, code: str) -> str:
    """Check an MWS ``ErrorResponse``; return its message."""
    assert response.status_code == status, response.text
    root = ET.fromstring(response.text)
    assert root.tag == f"{{{MWS_NS['m']}}}ErrorResponse"
    assert root.findtext("m:Error/m:Code", namespaces=MWS_NS) == code, response.text
    assert root.findtext("m:RequestID", namespaces=MWS_NS)
    return str(root.findtext("m:Error/m:Message", namespaces=MWS_NS))


def text(order: ET.Element, name: str) -> str | None:
    """Return a child element's text of an MWS ``Order``."""
    return order.findtext(f"m:{name}", namespaces=MWS_NS)


def wall_iso(offset_s: float = 0.0) -> str:
    """Return the wall time (plus ``offset_s``) as an MWS timestamp."""
    return datetime.fromtimestamp(time.time() + offset_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
