"""Provision a device over its setup console, then check it can reach DRS itself.

Wi-Fi (Improv), configuration, slots, calibration and LwA credentials. The same code
runs against a USB serial port and the virtual board's pty. The LwA
authorization code (from the maker's companion-app login; it lives 5 minutes and
works once) is exchanged here for a refresh token at the LwA endpoint named in the
configuration (LwA or the emulator); only the resulting credentials go to the device.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from drsctl.board import improv
from drsctl.board.improv import Frame, ImprovError, ImprovType, Rpc
from drsctl.board.serial_link import SerialLink

_WIFI_TIMEOUT_S = 30.0  # the device gives up connecting after 10 s; allow for slow links
_CHECK_TIMEOUT_S = 60.0  # subscriptionInfo from the device: TLS handshake, token refresh
_IMPROV_ERRORS = {
    ImprovError.INVALID_RPC: "invalid RPC packet (the device refused the frame)",
    ImprovError.UNKNOWN_RPC: "unknown RPC command (no Wi-Fi on this device?)",
    ImprovError.UNABLE_TO_CONNECT: "unable to connect: wrong SSID or password, or out of range",
    ImprovError.UNKNOWN: "unknown error on the device (see its log)",
}


class ProvisionError(RuntimeError):
    """Provisioning stopped; the message says at which step and why."""


@dataclass
class LwaCredentials:
    """The device maker's LwA client and either an authorization code or a refresh token."""

    client_id: str
    client_secret: str
    authorization_code: str | None = None
    redirect_uri: str | None = None
    refresh_token: str | None = None


@dataclass
class Plan:
    """What to write to the device; any part may be left out (None / empty)."""

    wifi: tuple[str, str] | None = None
    config: dict[str, Any] | None = None
    slots: list[dict[str, Any]] | None = None
    calibration: list[dict[str, Any]] = field(default_factory=list)
    lwa: LwaCredentials | None = None
    check: bool = True


class SetupConsole:
    """The device's setup console, spoken over a :class:`SerialLink`."""

    def __init__(self, link: SerialLink, timeout: float = 10.0) -> None:
        self.link = link
        self.timeout = timeout
        self._last_id = 0

    def device_info(self) -> list[str]:
        """Improv device info: firmware, version, platform, device name."""
        self.link.send(improv.rpc(Rpc.DEVICE_INFO))
        frame = self.link.wait_for(_rpc_answer(Rpc.DEVICE_INFO), self.timeout, "device info")
        _raise_improv_error(frame, "device info")
        return improv.rpc_strings(frame.data)

    def set_wifi(self, ssid: str, password: str) -> None:
        """Send the Wi-Fi settings; returns once the device is connected and saved them."""
        try:
            payload = improv.wifi_settings(ssid, password)
        except ValueError as exc:
            raise ProvisionError(f"Wi-Fi: {exc}") from None
        self.link.send(improv.rpc(Rpc.SEND_WIFI, payload))
        frame = self.link.wait_for(_rpc_answer(Rpc.SEND_WIFI), _WIFI_TIMEOUT_S, "Wi-Fi settings")
        _raise_improv_error(frame, "Wi-Fi")

    def request(self, command: str, timeout: float | None = None, **fields: Any) -> dict[str, Any]:
        """One setup command; its reply, or ProvisionError with the device's reason.

        Each request carries an id the device echoes, so a late answer to an earlier
        request (one that timed out) is skipped; errors about a dropped frame carry none.
        """
        self._last_id += 1
        request_id = self._last_id
        self.link.send(improv.setup_request(command, id=request_id, **fields))
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            frame = self.link.wait_for(
                lambda f: f.header == improv.SETUP,
                max(deadline - time.monotonic(), 0.0),
                f"'{command}'",
            )
            if not frame.valid:
                raise ProvisionError(f"{command}: garbled reply from the device (bad checksum)")
            try:
                reply = json.loads(frame.data)
            except ValueError:
                raise ProvisionError(f"{command}: the device's reply is not JSON") from None
            if not isinstance(reply, dict):
                raise ProvisionError(f"{command}: the device's reply is not a JSON object")
            if reply.pop("id", None) in (None, request_id):
                break  # ours, or an error about a dropped frame (it carries no id)
        if not reply.get("ok"):
            raise ProvisionError(f"the device refused {reply.get('error') or command}")
        return reply


def _rpc_answer(command: int) -> Callable[[Frame], bool]:
    """Accept the RPC result of ``command`` or an error state (other than 'no error')."""

    def accept(frame: Frame) -> bool:
        if frame.header != improv.IMPROV:
            return False
        if frame.kind == ImprovType.ERROR_STATE:
            return bool(frame.data) and frame.data[0] != ImprovError.NONE
        return frame.kind == ImprovType.RPC_RESULT and frame.data[:1] == bytes((command,))

    return accept


def _raise_improv_error(frame: Frame, step: str) -> None:
    if not frame.valid:
        raise ProvisionError(f"{step}: garbled answer from the device (bad checksum)")
    if frame.kind == ImprovType.ERROR_STATE:
        code = frame.data[0]
        reason = (
            _IMPROV_ERRORS.get(ImprovError(code), f"error 0x{code:02x}")
            if code in _IMPROV_ERRORS
            else f"error 0x{code:02x}"
        )
        raise ProvisionError(f"{step}: {reason}")


def exchange_authorization_code(lwa_url: str, credentials: LwaCredentials) -> str:
    """The refresh token for an authorization code (LwA's authorization-code grant)."""
    form = {
        "grant_type": "authorization_code",
        "code": credentials.authorization_code or "",
        "redirect_uri": credentials.redirect_uri or "",
        "client_id": credentials.client_id,
        "client_secret": credentials.client_secret,
    }
    try:
        response = httpx.post(lwa_url, data=form, timeout=30)
    except httpx.HTTPError as exc:
        raise ProvisionError(f"LwA: cannot reach {lwa_url}: {type(exc).__name__}") from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200:
        error = body.get("error") if isinstance(body, dict) else None
        if error == "invalid_grant":
            raise ProvisionError(
                "LwA refused the authorization code: it expired (codes live 5 minutes) or "
                "was used already; sign in again in the companion app for a new one"
            )
        if error in ("invalid_client", "unauthorized_client"):
            raise ProvisionError("LwA refused the client id/secret (invalid_client)")
        raise ProvisionError(f"LwA: HTTP {response.status_code} {error or ''}".rstrip())
    token = body.get("refresh_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise ProvisionError("LwA: the answer carries no refresh token")
    return token


def provision(
    console: SetupConsole, plan: Plan, say: Callable[[str], None] = print
) -> dict[str, Any]:
    """Carry out the plan step by step; returns the device's final status."""
    info = console.device_info()
    say(f"device: {' '.join(info)}")
    if plan.wifi is not None:
        say(f"Wi-Fi: connecting to {plan.wifi[0]!r}")
        console.set_wifi(*plan.wifi)
    if plan.config is not None:
        config = dict(plan.config)
        if plan.slots is not None:
            config["slots"] = plan.slots
        console.request("config", config=config)
        say("config.json: written")
    elif plan.slots is not None:
        console.request("slots", slots=plan.slots)
        say(f"slots: {len(plan.slots)} written")
    for step in plan.calibration:
        reply = console.request("calibrate", **step)
        say(f"calibration: slot {step.get('slot')} {step.get('point')} = {reply.get('raw')}")
    if plan.lwa is not None:
        refresh_token = plan.lwa.refresh_token
        if refresh_token is None:
            lwa_url = _lwa_url(plan)
            say("LwA: exchanging the authorization code")
            refresh_token = exchange_authorization_code(lwa_url, plan.lwa)
        console.request(
            "lwa",
            client_id=plan.lwa.client_id,
            client_secret=plan.lwa.client_secret,
            refresh_token=refresh_token,
        )
        say("LwA credentials: written")
    if plan.check:
        reply = console.request("check", timeout=_CHECK_TIMEOUT_S)
        subscribed = reply.get("subscribed") or {}
        say("DRS: reachable; slots " + ", ".join(f"{k}={v}" for k, v in subscribed.items()))
    return console.request("status")


def _lwa_url(plan: Plan) -> str:
    config = plan.config
    if config is None:
        raise ProvisionError(
            "LwA: exchanging an authorization code needs the configuration (its "
            "endpoints.lwa): give --config"
        )
    url = (config.get("endpoints") or {}).get("lwa")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ProvisionError("LwA: the configuration has no endpoints.lwa URL")
    return url


def write_record(path: Path, port: str, status: dict[str, Any] | None, result: str) -> None:
    """Append one provisioning record (JSON line, no secrets) for the factory line."""
    status = status or {}
    record = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "port": port,
        "serial": status.get("serial"),
        "firmware": status.get("firmware"),
        "result": result,
    }
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\n")
