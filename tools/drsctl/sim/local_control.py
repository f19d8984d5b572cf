"""The control client of an emulator running in this process.

A simulation moves the clock every tick and looks for delivered orders while one is
out. Over HTTP that is a round trip to its own emulator per tick, more than the
firmware's own step costs; when the emulator runs in this process those two calls go
straight to its store (the same functions the control routes run, in one transaction
each). Everything else, and any emulator elsewhere, still goes through the control API.
"""

from __future__ import annotations

import ssl
from typing import Any

from drsctl.control_client import ControlError, EmulatorControl
from drsctl.emulator import clock, orders
from drsctl.emulator.store import Store


class LocalControl(EmulatorControl):
    """:class:`EmulatorControl` with the per-tick calls served from ``store`` directly."""

    def __init__(self, base_url: str, store: Store, verify: ssl.SSLContext | bool = True) -> None:
        """Control the emulator at ``base_url`` whose store is ``store`` (this process)."""
        super().__init__(base_url, verify=verify)
        self.store = store

    def set_clock(self, epoch: int) -> int:
        """Set the virtual clock (due order transitions run), as ``POST /clock`` does."""
        try:
            with self.store.tx() as tx:
                return clock.set_to(tx, int(epoch))
        except clock.ClockError as err:
            raise ControlError(f"set clock: {err}") from None

    def orders(
        self, device_id: str | None = None, updated_since: int | None = None
    ) -> list[dict[str, Any]]:
        """Orders as ``GET /orders`` lists them (only those updated at or after a time)."""
        with self.store.tx() as tx:
            found = tx.orders(device_id, updated_since=updated_since)
        return [orders.as_json(order) for order in found]
