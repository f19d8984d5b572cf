"""Transaction accessors for armed faults and the request log."""

from typing import Any

from .base import TxBase
from .records import Fault


class FaultsTx(TxBase):
    """Armed faults and the log of device-facing requests."""

    def insert_fault(self, fault: Fault) -> int:
        """Arm a fault; return its id."""
        return self._insert("faults", fault)

    def take_fault(self, route: str) -> Fault | None:
        """Consume one use of the oldest armed fault matching ``route`` (or ``*``)."""
        fault = self._one(
            Fault,
            "SELECT * FROM faults WHERE remaining > 0 AND route IN (?, '*') "
            "ORDER BY fault_id LIMIT 1",
            route,
        )
        if fault is not None:
            self._conn.execute(
                "UPDATE faults SET remaining = remaining - 1 WHERE fault_id = ?", (fault.fault_id,)
            )
        return fault

    def faults(self) -> list[Fault]:
        """Return faults that still have uses left."""
        return self._all(Fault, "SELECT * FROM faults WHERE remaining > 0 ORDER BY fault_id")

    def clear_faults(self) -> int:
        """Disarm every fault; return how many were armed."""
        return self._conn.execute("DELETE FROM faults WHERE remaining > 0").rowcount

    def log_request(
        self,
        t: int,
        method: str,
        path: str,
        route: str,
        status: int | None = None,
        device_id: str | None = None,
    ) -> int:
        """Add a request log entry (complete it later with :meth:`finish_request`); its id."""
        cur = self._conn.execute(
            "INSERT INTO requests (t, method, path, route, status, device_id) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (t, method, path, route, status, device_id),
        )
        return int(cur.lastrowid or 0)

    def finish_request(
        self, entry_id: int, status: int | None, device_id: str | None, fault: str | None
    ) -> None:
        """Complete a request log entry."""
        self._conn.execute(
            "UPDATE requests SET status = ?, device_id = ?, fault = ? WHERE id = ?",
            (status, device_id, fault, entry_id),
        )

    def requests(self, since: int, limit: int) -> list[dict[str, Any]]:
        """Return request log entries with id > ``since``, oldest first."""
        rows = self._conn.execute(
            "SELECT id, t, method, path, route, status, device_id, fault FROM requests "
            "WHERE id > ? ORDER BY id LIMIT ?",
            (since, limit),
        )
        return [dict(row) for row in rows]
