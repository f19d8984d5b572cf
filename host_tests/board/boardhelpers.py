"""Shared by the board tests: the bench, the device's configuration, emulator set-up."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
from drsctl.board.provision import LwaCredentials, Plan

WIFI = {"bench-ap": "bench-password-1"}
SERIAL = "VB-000001"
EMPTY_RAW, FULL_RAW = 12000, 845000


def write_bench(path: Path, raw: float | None) -> None:
    """Put a load cell with this raw reading on the bench (None: disconnected)."""
    chips = [] if raw is None else [{"dout": 16, "sck": 17, "raw": raw}]
    path.write_text(json.dumps({"hx711": chips}))


def device_config(url: str, slots: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """config.json for a device on the virtual board talking to the emulator."""
    return {
        "device": {"serial": SERIAL, "model": "acme-x1"},
        "endpoints": {"drs": url, "lwa": url + "/auth/o2/token"},
        "allow_plain_http": True,  # the emulator on this machine
        "loop_interval_s": 1,
        "test_orders": True,
        "slots": slots
        or [
            {
                "id": "toner",
                "sensor": {
                    "driver": "hx711",
                    "dout": 16,
                    "sck": 17,
                    "samples": 1,
                    "empty": EMPTY_RAW,
                    "full": FULL_RAW,
                },
            }
        ],
    }


def control_call(url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST to one of the emulator's control routes (what the maker's back office does)."""
    response = httpx.post(f"{url}/_emulator{path}", json=body, timeout=10)
    response.raise_for_status()
    return response.json()


def wait_for_boot(board: Any, link: Any, boots: int, timeout: float = 15) -> None:
    """Read the port until the virtual board has booted `boots` times (bytes sent while
    it resets are lost, as on a board)."""
    deadline = time.monotonic() + timeout
    while board.boots < boots and time.monotonic() < deadline:
        link.poll()
    assert board.boots >= boots, f"the board did not boot again within {timeout} s"


def wait_until_booted(board: Any, boots: int, timeout: float = 15) -> None:
    """Wait, without opening the port, until the virtual board has booted `boots` times.

    A boot forks MicroPython from this process; until it runs, the fork holds a copy of
    every descriptor open at that moment, so a port closed meanwhile stays locked (busy).
    """
    deadline = time.monotonic() + timeout
    while board.boots < boots and time.monotonic() < deadline:
        time.sleep(0.01)
    assert board.boots >= boots, f"the board did not boot again within {timeout} s"


def lwa_plan(registered: dict[str, Any], code: dict[str, str]) -> Plan:
    """A provisioning plan: the device's configuration and an authorization code."""
    return Plan(
        config=device_config(registered["url"]),
        lwa=LwaCredentials(
            client_id=registered["client_id"],
            client_secret=registered["client_secret"],
            authorization_code=code["code"],
            redirect_uri=code["redirect_uri"],
        ),
    )
