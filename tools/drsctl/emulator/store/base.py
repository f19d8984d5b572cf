"""What every group of transaction accessors stands on: the connection and row helpers."""

import functools
import sqlite3
from typing import Any, TypeVar

from .records import as_values, from_row, from_rows, from_values

_T = TypeVar("_T")


class TxBase:
    """One open transaction's connection, with helpers to read and write records."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        # One cursor for the statements whose rows are read at once (the helpers below,
        # BEGIN and COMMIT): Connection.execute creates and registers a cursor each time.
        self._cur = conn.cursor()
        self._now: int | None = None  # the clock, once read (see SettingsTx.now)

    def _one(self, cls: type[_T], sql: str, *args: Any) -> _T | None:
        row = self._cur.execute(sql, args).fetchone()
        return None if row is None else from_row(cls, row)

    def _all(self, cls: type[_T], sql: str, *args: Any) -> list[_T]:
        return from_rows(cls, self._cur.execute(sql, args))

    def _record(self, cls: type[_T], sql: str, *args: Any) -> _T | None:
        """The first record ``sql`` finds, selecting :func:`.column_list` of ``cls``."""
        row = self._cur.execute(sql, args).fetchone()
        return None if row is None else from_values(cls, row)

    def _records(self, cls: type[_T], sql: str, *args: Any) -> list[_T]:
        """Every record ``sql`` finds, selecting :func:`.column_list` of ``cls``."""
        return [from_values(cls, row) for row in self._cur.execute(sql, args)]

    def _insert(self, table: str, record: Any) -> int:
        values = {k: v for k, v in as_values(record).items() if v is not None}
        cur = self._cur.execute(_insert_sql(table, tuple(values)), tuple(values.values()))
        return int(cur.lastrowid or 0)


@functools.cache
def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    """The INSERT of ``columns`` into ``table``, one string per shape.

    The statement cache then finds it without hashing a new string.
    """
    marks = ", ".join("?" * len(columns))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
