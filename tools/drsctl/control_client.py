"""A small client for the emulator's control API (``/_emulator/...``).

Used by the simulator, the tests and the command line; it speaks to a running
emulator over HTTP exactly as any other tool would.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx

_REPLENISH_HEADERS = {
    "x-amzn-type-version": "com.amazon.dash.replenishment.DrsReplenishInput@1.0",
    "x-amzn-accept-type": "com.amazon.dash.replenishment.DrsReplenishResult@1.0",
}


class ControlError(RuntimeError):
    """The emulator answered a control call with an error status."""


class EmulatorControl:
    """Typed wrappers around the emulator's control routes."""

    def __init__(
        self, base_url: str, verify: ssl.SSLContext | bool = True, timeout: float = 30.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, verify=verify, timeout=timeout)

    def close(self) -> None:
        """Close the underlying connection pool."""
        self._http.close()

    def __enter__(self) -> EmulatorControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, json: Any = None, params: Any = None) -> Any:
        response = self._http.request(method, "/_emulator" + path, json=json, params=params)
        if response.status_code >= 400:
            raise ControlError(
                f"{method} /_emulator{path} -> {response.status_code}: {response.text}"
            )
        return response.json() if response.content else None

    def provision(self, serial: str, slots: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        """Register customer, LwA client, device and slots; return credentials."""
        return self._call("POST", "/provision", json={"serial": serial, "slots": slots, **extra})

    def now(self) -> int:
        """The virtual clock, in Unix seconds."""
        return int(self._call("GET", "/clock")["now"])

    def set_clock(self, epoch: int) -> int:
        """Set the virtual clock (due order transitions run)."""
        return int(self._call("POST", "/clock", json={"set": int(epoch)})["now"])

    def advance(self, seconds: float) -> int:
        """Move the virtual clock forward."""
        return int(self._call("POST", "/clock", json={"advance": seconds})["now"])

    def settings(self, **values: Any) -> dict[str, Any]:
        """Read (no arguments) or change emulator settings."""
        if values:
            return self._call("POST", "/settings", json=values)
        return self._call("GET", "/settings")

    def orders(
        self, device_id: str | None = None, updated_since: int | None = None
    ) -> list[dict[str, Any]]:
        """Every order, optionally for one device, or only those updated since a time."""
        params: dict[str, Any] = {}
        if device_id:
            params["device_id"] = device_id
        if updated_since is not None:
            params["updated_since"] = updated_since
        return self._call("GET", "/orders", params=params or None)["orders"]

    def cancel_order(self, event_instance_id: str) -> dict[str, Any]:
        """Cancel an order as the customer would."""
        return self._call("POST", f"/orders/{event_instance_id}/cancel")

    def set_delivery(self, event_instance_id: str, lead_time_hours: float) -> dict[str, Any]:
        """Have an order on its way arrive ``lead_time_hours`` after it was placed."""
        body = {"lead_time_hours": lead_time_hours}
        return self._call("POST", f"/orders/{event_instance_id}/delivery", json=body)["order"]

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        """The device-facing request log after id ``since``, oldest first (all pages)."""
        entries: list[dict[str, Any]] = []
        while True:
            page = self._call("GET", "/requests", params={"since": since, "limit": 10000})
            entries += page["requests"]
            if len(page["requests"]) < 10000:
                return entries
            since = page["requests"][-1]["id"]

    def fault(self, route: str, kind: str, count: int = 1, **extra: Any) -> dict[str, Any]:
        """Make the next ``count`` calls to ``route`` misbehave."""
        body = {"route": route, "kind": kind, "count": count, **extra}
        return self._call("POST", "/faults", json=body)

    def holding(self) -> int:
        """How many requests a ``hang`` fault is holding right now."""
        return int(self._call("GET", "/faults")["holding"])

    def release_hangs(self) -> None:
        """Let every held (``hang``) response go."""
        self._call("POST", "/faults/release")

    def clear_faults(self) -> None:
        """Remove every pending fault."""
        self._call("DELETE", "/faults")

    def expire_tokens(self, device_id: str) -> None:
        """Expire the device's access tokens now."""
        self._call("POST", "/tokens/expire", json={"device_id": device_id})

    def create_seller(self, name: str) -> dict[str, Any]:
        """Create a seller (or fresh credentials for an existing one): SP-API LwA + MWS keys."""
        return self._call("POST", "/sellers", json={"name": name})

    def place_order(self, seller: str, slot_id: str = "toner-black") -> dict[str, Any]:
        """Place one order for ``seller`` the way a device does; return it as /orders lists it.

        Provisions a device of the seller's brand, trades its refresh token at LwA, calls
        DRS ``replenish`` and moves the clock until the payment is authorized: the order is
        ``Unshipped`` (ready for confirmShipment) in every view (DRS, SP-API, MWS).
        """
        creds = self.provision(
            serial=f"{seller}-walkthrough", model=f"{seller}-appliance", slots=[{"id": slot_id}]
        )
        grant = self._http.post(
            "/auth/o2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": creds["refresh_token"],
                "client_id": creds["client_id"],
                "client_secret": creds["client_secret"],
            },
        )
        if grant.status_code != 200:
            raise ControlError(f"LwA refused the new device's refresh token: {grant.status_code}")
        headers = {
            "Authorization": f"Bearer {grant.json()['access_token']}",
            **_REPLENISH_HEADERS,
        }
        answer = self._http.post(f"/replenish/{slot_id}", headers=headers)
        if answer.status_code != 200:
            raise ControlError(f"replenish -> {answer.status_code}: {answer.text}")
        event_id = answer.json().get("eventInstanceId")
        self.advance(self.settings()["authorize_after_s"])  # paid: Unshipped, ready to ship
        orders = self.orders(creds["device_id"])
        return next(o for o in orders if o["event_instance_id"] == event_id)
