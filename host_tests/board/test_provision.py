"""drsctl provision end to end: virtual board, real emulator over loopback HTTP."""

from __future__ import annotations

import time
from typing import Any

from drsctl.board.monitor import format_status, watch
from drsctl.board.provision import SetupConsole, provision
from drsctl.board.virtual_board import VirtualBoard

from host_tests.board.boardhelpers import WIFI, lwa_plan


def test_provision_then_the_device_places_a_test_order(
    board: VirtualBoard, console: SetupConsole, registered: dict[str, Any], new_code
) -> None:
    said: list[str] = []
    plan = lwa_plan(registered, new_code())
    plan.wifi = next(iter(WIFI.items()))
    status = provision(console, plan, say=said.append)
    assert status["serial"] == "VB-000001"
    assert status["wifi"] == {"ssid": "bench-ap", "connected": True}
    assert status["lwa"] == {"client_id": "present", "refresh_token": "present"}
    assert any(line.startswith("DRS: reachable; slots toner=True") for line in said)

    control = registered["control"]
    seen: list[str] = []
    deadline = time.monotonic() + 60
    watch(
        console,
        say=seen.append,
        status_every=1,
        stop=lambda: bool(control.orders(registered["device_id"])) or time.monotonic() > deadline,
    )
    orders = control.orders(registered["device_id"])
    assert len(orders) == 1, seen
    assert orders[0]["is_test"] is True
    status = console.request("status")
    assert status["slots"][0]["state"] in ("ordering", "ordered", "inflight")
    assert "toner=" in format_status(status)
    flash_text = "".join(p.read_text(errors="replace") for p in board.flash.glob("*.json"))
    log_text = "\n".join(console.link.log_lines + seen)  # type: ignore[attr-defined]
    assert registered["client_secret"] in flash_text  # on the device's flash, where it belongs
    assert registered["client_secret"] not in log_text
    assert "Atzr|" not in log_text
