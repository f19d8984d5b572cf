"""Transaction accessors for armed faults and the request log."""

import sqlite3
from typing import Any

from .base import TxBase
from .records import Fault


class FaultFlag:
    """Whether a fault may be armed, so that most requests skip the fault lookup.

    Set when a fault is armed and when a transaction rolls back (it may have consumed or
    cleared one); cleared only by a lookup that finds none. It starts set: faults armed
    before the server started are found by the first lookup. It assumes the store's
    connection is the database's only writer, as the store does.
    """

    def __init__(self) -> None:
        self.maybe_armed = True


class FaultsTx(TxBase):
    """Armed faults and the log of device-facing requests."""

    def __init__(self, conn: sqlite3.Connection, fault_flag: FaultFlag) -> None:
        super().__init__(conn)
        self._fault_flag = fault_flag

    def insert_fault(self, fault: Fault) -> int:
        """Arm a fault; return its id."""
        self._fault_flag.maybe_armed = True
        return self._insert("faults", fault)

    def take_fault(self, route: str) -> Fault | None:
        """Consume one use of the oldest armed fault matching ``route`` (or ``*``)."""
        if not self._fault_flag.maybe_armed:
            return None
        fault = self._one(
            Fault,
            "SELECT * FROM faults WHERE remaining > 0 AND route IN (?, '*') "
            "ORDER BY fault_id LIMIT 1",
            route,
        )
        if fault is None:
            self._fault_flag.maybe_armed = (
                self._conn.execute("SELECT 1 FROM faults WHERE remaining > 0 LIMIT 1").fetchone()
                is not None
            )
        else:
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
        cur = self._cur.execute(
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
