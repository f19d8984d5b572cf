"""Transaction accessors for retention: what a long-running emulator may forget."""

from .base import TxBase


def _older(table: str, time_column: str) -> str:
    """``id < `` the first row of ``table`` at or after ``?1`` (every row if none is).

    The request log and the reports are in time order by row id: a row's time is the
    virtual clock when it was written, and the clock never goes backwards. The rows to
    purge are therefore the first ids, found by reading them (no index on time, which
    every insert would have to write), however many rows are kept.
    """
    first_kept = f"SELECT id FROM {table} WHERE {time_column} >= ?1 ORDER BY id LIMIT 1"
    return f"id < COALESCE(({first_kept}), (SELECT MAX(id) FROM {table}) + 1)"


_PURGE = (
    f"DELETE FROM requests WHERE {_older('requests', 't')}",
    f"DELETE FROM reports WHERE {_older('reports', 'received_at')} AND EXISTS "
    "(SELECT 1 FROM reports AS newer WHERE newer.device_id = reports.device_id "
    "AND newer.kind = reports.kind AND newer.slot_id IS reports.slot_id AND newer.id > reports.id)",
    "DELETE FROM tokens WHERE kind = 'access' AND expires_at < ?1",
    "DELETE FROM page_tokens WHERE created_at < ?1",
    "DELETE FROM rdts WHERE expires_at < ?1",
)


class RetentionTx(TxBase):
    """The purge of old request log entries, reports, expired tokens and NextTokens."""

    def purge_before(self, cutoff: int) -> int:
        """Delete what is older than ``cutoff`` (virtual time); return how many rows.

        Each device keeps its latest report of every kind (``/_emulator/slot-status``):
        a report goes only if a newer one of its device, kind and slot exists.
        """
        return sum(self._conn.execute(sql, (cutoff,)).rowcount for sql in _PURGE)
