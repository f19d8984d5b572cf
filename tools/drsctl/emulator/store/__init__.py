"""All emulator state in one SQLite file (WAL), behind one connection and one lock.

Every read and write goes through :meth:`Store.tx`, which holds the lock for the whole
transaction and hands out a :class:`Tx` with small typed accessors. Secrets are stored
as digests only (see :mod:`..ids`). Times are Unix seconds on the virtual clock.

* :mod:`.schema`: the tables; :mod:`.records`: one dataclass per row;
* the accessors, grouped by aggregate: :mod:`.settings` (clock, settings, rate buckets,
  flags), :mod:`.devices` (customers, clients, devices, slots, reports), :mod:`.auth`
  (authorization codes, tokens), :mod:`.orders`, :mod:`.backoffice` (sellers, MWS keys,
  RDTs, packages, page tokens), :mod:`.faults` (faults and the request log).
"""

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .auth import AuthTx
from .backoffice import BackOfficeTx
from .devices import DevicesTx
from .faults import FaultsTx
from .orders import OrdersTx
from .records import (
    SETTING_LIMITS,
    AuthCode,
    Client,
    Customer,
    Device,
    Fault,
    MwsKey,
    Order,
    Package,
    Rdt,
    Report,
    Seller,
    Settings,
    Slot,
    Token,
    setting_ok,
)
from .schema import SCHEMA, SCHEMA_V2, SCHEMA_VERSION
from .settings import SettingsTx

__all__ = [
    "SETTING_LIMITS", "AuthCode", "Client", "Customer", "Device", "Fault", "MwsKey", "Order",
    "Package", "Rdt", "Report", "Seller", "Settings", "Slot", "Store", "Token", "Tx",
    "setting_ok",
]  # fmt: skip


class Tx(SettingsTx, DevicesTx, AuthTx, OrdersTx, BackOfficeTx, FaultsTx):
    """Typed accessors on one open transaction (obtain one from :meth:`Store.tx`)."""


class Store:
    """The emulator database: one SQLite connection guarded by one lock."""

    def __init__(self, path: str | Path) -> None:
        """Open (creating if needed) the database at ``path``."""
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._conn.execute("PRAGMA busy_timeout = 5000")
        self._migrate()

    def _migrate(self) -> None:
        """Create the schema on a new database; refuse one from another version."""
        with self._lock:
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version == SCHEMA_VERSION:
                return
            if version not in (0, 1):
                raise RuntimeError(
                    f"{self.path}: emulator schema version {version}, expected {SCHEMA_VERSION}"
                )
            script = SCHEMA_V2
            if version == 0:
                script = (
                    SCHEMA
                    + f"INSERT INTO clock (id, now) VALUES (1, {round(time.time())});"
                    + SCHEMA_V2
                )
            try:
                self._conn.executescript(
                    "BEGIN IMMEDIATE;"
                    + script
                    + f"PRAGMA user_version = {SCHEMA_VERSION};"
                    + "COMMIT;"
                )
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    @contextmanager
    def tx(self) -> Iterator[Tx]:
        """Run one transaction under the lock; commit on success, roll back on error."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield Tx(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()
