"""All emulator state in one SQLite file (WAL), behind one connection and one lock.

Every read and write goes through :meth:`Store.tx`, which holds the lock for the whole
transaction and hands out a :class:`Tx` with small typed accessors. A ``tx()`` opened
while the same thread already has one joins it as a savepoint, so a request runs in one
transaction however many layers ask for one. Secrets are stored as digests only (see
:mod:`..ids`). Times are Unix seconds on the virtual clock.

* :mod:`.schema`: the tables; :mod:`.records`: one dataclass per row;
* the accessors, grouped by aggregate: :mod:`.settings` (clock, settings, rate buckets,
  flags), :mod:`.devices` (customers, clients, devices, slots, reports), :mod:`.auth`
  (authorization codes, tokens), :mod:`.orders`, :mod:`.backoffice` (sellers, MWS keys,
  RDTs, packages, page tokens), :mod:`.faults` (faults and the request log),
  :mod:`.retention` (the purge of old log entries, reports and tokens).
"""

import sqlite3
import threading
import time
from pathlib import Path

from .auth import AuthTx
from .backoffice import BackOfficeTx
from .devices import DevicesTx
from .faults import FaultFlag, FaultsTx
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
    OrderItem,
    Package,
    Rdt,
    Report,
    Seller,
    Settings,
    Slot,
    Token,
    setting_ok,
)
from .retention import RetentionTx
from .schema import SCHEMA, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4, SCHEMA_V5, SCHEMA_VERSION
from .settings import SettingsTx

__all__ = [
    "SETTING_LIMITS", "AuthCode", "Client", "Customer", "Device", "Fault", "MwsKey", "Order",
    "OrderItem", "Package", "Rdt", "Report", "Seller", "Settings", "Slot", "Store", "Token", "Tx",
    "setting_ok",
]  # fmt: skip


class Tx(SettingsTx, DevicesTx, AuthTx, OrdersTx, BackOfficeTx, FaultsTx, RetentionTx):
    """Typed accessors on one open transaction (obtain one from :meth:`Store.tx`)."""


class Store:
    """The emulator database: one SQLite connection guarded by one lock."""

    def __init__(self, path: str | Path) -> None:
        """Open (creating if needed) the database at ``path``."""
        self.path = Path(path)
        self._lock = threading.Lock()
        self._thread = threading.local()  # .tx: the thread's open transaction, if any
        self._fault_flag = FaultFlag()
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        # WAL: a commit appends its pages to the -wal file (two writes a page: frame header,
        # page) without an fsync, and other connections keep working: the emulator is its
        # database's only writer but not its only connection (the bench seeds the running
        # emulator's file, tests read it).
        self._conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL: fsyncs only at checkpoints. A crash of the emulator loses nothing; a power
        # cut or OS crash loses the transactions since the last checkpoint (at most about
        # 1 000 pages, some hundreds of requests) and leaves the rest consistent. OFF would
        # save those fsyncs, but a power cut could then corrupt the file.
        self._conn.execute("PRAGMA synchronous = NORMAL")
        # Left at SQLite's defaults, measured: wal_autocheckpoint (a checkpoint's fsync
        # flushes every WAL byte since the last one, so rarer checkpoints cost as much, in
        # longer stalls); locking_mode (EXCLUSIVE would save the six fcntl locks of each
        # transaction but lock every other connection out); mmap_size, cache_size and
        # temp_store (the device routes read no page from the file, even with 20 000
        # orders, and sort nothing on disk).
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._conn.execute("PRAGMA busy_timeout = 5000")
        self._migrate()
        # Encoded orders are only valid for the code that rendered them.
        self._conn.execute("DELETE FROM order_json")

    def _migrate(self) -> None:
        """Create the schema on a new database, upgrade an older one, refuse a newer one."""
        with self._lock:
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version == SCHEMA_VERSION:
                return
            if not 0 <= version < SCHEMA_VERSION:
                raise RuntimeError(
                    f"{self.path}: emulator schema version {version}, expected {SCHEMA_VERSION}"
                )
            first = SCHEMA + f"INSERT INTO clock (id, now) VALUES (1, {round(time.time())});"
            scripts = (first, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4, SCHEMA_V5)[version:]
            try:
                self._conn.executescript(
                    "BEGIN IMMEDIATE;"
                    + "".join(scripts)
                    + f"PRAGMA user_version = {SCHEMA_VERSION};"
                    + "COMMIT;"
                )
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def tx(self, savepoints: bool = True) -> "Transaction":
        """Run one transaction under the lock; commit on success, roll back on error.

        Inside a transaction of the same thread this joins it: a savepoint that an error
        rolls back alone, committed with the outer transaction. With ``savepoints=False``
        the transactions that join this one add no savepoint: an error in any of them
        rolls back the whole transaction (two statements a join fewer).
        """
        return Transaction(self, savepoints)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()


_OUTER, _SAVEPOINT, _JOINED = range(3)


class Transaction:
    """What :meth:`Store.tx` returns: a context manager giving the :class:`Tx`.

    A class rather than a generator: it runs twice for every device request.
    """

    __slots__ = ("_kind", "_savepoints", "_store", "_tx")

    def __init__(self, store: Store, savepoints: bool) -> None:
        self._store = store
        self._savepoints = savepoints

    def __enter__(self) -> Tx:
        store = self._store
        local = store._thread
        outer: Tx | None = getattr(local, "tx", None)
        if outer is not None:
            self._tx = outer
            if not local.savepoints:
                self._kind = _JOINED
                return outer
            store._conn.execute("SAVEPOINT joined")
            self._kind = _SAVEPOINT
            return outer
        store._lock.acquire()
        try:
            tx = Tx(store._conn, store._fault_flag)
            tx._cur.execute("BEGIN IMMEDIATE")
        except BaseException:
            store._lock.release()
            raise
        local.tx = tx
        local.savepoints = self._savepoints
        self._kind = _OUTER
        self._tx = tx
        return tx

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        store = self._store
        if self._kind == _JOINED:
            return
        conn = store._conn
        if self._kind == _SAVEPOINT:
            if exc_type is not None:
                conn.execute("ROLLBACK TO joined")
                conn.execute("RELEASE joined")
                self._tx.forget_now()  # the rolled-back part may have moved the clock
                store._fault_flag.maybe_armed = True
                return
            conn.execute("RELEASE joined")
            return
        try:
            store._thread.tx = None
            if exc_type is not None:
                conn.execute("ROLLBACK")
                store._fault_flag.maybe_armed = True  # the rollback may have re-armed one
                return
            self._tx._cur.execute("COMMIT")
        finally:
            store._lock.release()
