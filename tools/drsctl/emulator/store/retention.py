"""Transaction accessors for retention: what a long-running emulator may forget."""

from .base import TxBase


class RetentionTx(TxBase):
    """The purge of old request log entries, reports, expired tokens and NextTokens."""

    def purge_before(self, cutoff: int) -> int:
        """Delete what is older than ``cutoff`` (virtual time); return how many rows.

        Each device keeps its latest report of every kind (``/_emulator/slot-status``).
        """
        deleted = 0
        for sql in (
            "DELETE FROM requests WHERE t < ?1",
            "DELETE FROM reports WHERE received_at < ?1 AND id NOT IN "
            "(SELECT MAX(id) FROM reports GROUP BY device_id, kind, slot_id)",
            "DELETE FROM tokens WHERE kind = 'access' AND expires_at < ?1",
            "DELETE FROM page_tokens WHERE created_at < ?1",
            "DELETE FROM rdts WHERE expires_at < ?1",
        ):
            deleted += self._conn.execute(sql, (cutoff,)).rowcount
        return deleted
