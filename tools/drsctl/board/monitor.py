"""Watch a device: its log lines as they come and its status now and then, redacted."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from drsctl.board.provision import ProvisionError, SetupConsole
from drsctl.board.serial_link import DeviceTimeout, redact


def format_status(status: dict[str, Any]) -> str:
    """One line: identity, mode, Wi-Fi, credentials, each slot's state and level."""
    wifi = status.get("wifi") or {}
    lwa = status.get("lwa") or {}
    slots = ", ".join(
        f"{s.get('id')}={s.get('state') or '-'}"
        + (f" {s['level']:.0%}" if isinstance(s.get("level"), (int, float)) else "")
        for s in status.get("slots") or []
    )
    line = (
        f"status: {status.get('serial') or '(no serial)'} firmware {status.get('firmware')} "
        f"{status.get('mode')}; Wi-Fi {wifi.get('ssid') or '-'} "
        f"{'connected' if wifi.get('connected') else 'not connected'}; "
        f"refresh token: {lwa.get('refresh_token')}; heap free {status.get('heap_free')}; "
        f"slots: {slots or '-'}"
    )
    if status.get("last_error"):
        line += f"; last error: {status['last_error']}"
    return line


def watch(
    console: SetupConsole,
    say: Callable[[str], None] = print,
    status_every: float = 10.0,
    duration: float | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """Print log lines (through the link's ``on_log``) and a status line every so often.

    Runs for ``duration`` seconds (None: until Ctrl-C) or until ``stop()`` is true. A
    device that does not answer a status request is reported and asked again later
    (it may be rebooting).
    """
    end = None if duration is None else time.monotonic() + duration
    try:  # what went wrong before we connected
        for line in console.request("log").get("lines") or ():
            say(f"earlier: {redact(line)}")
    except (ProvisionError, DeviceTimeout) as exc:
        say(f"log: {exc}")
    next_status = time.monotonic()
    while not stop() and (end is None or time.monotonic() < end):
        if time.monotonic() >= next_status:
            try:
                say(format_status(console.request("status")))
            except (ProvisionError, DeviceTimeout) as exc:
                say(f"status: {exc}")
            next_status = time.monotonic() + status_every
        console.link.poll()
