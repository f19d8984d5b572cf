"""Transaction accessors for LwA: authorization codes and tokens."""

import dataclasses

from .base import TxBase
from .records import AuthCode, Device, Token, column_list, from_values

_TOKEN_COLUMNS = len(dataclasses.fields(Token))
_DEVICE_COLUMNS = len(dataclasses.fields(Device))
_CALLER = (
    f"SELECT {column_list(Token, 't')}, {column_list(Device, 'd')}, "
    "(SELECT now FROM clock WHERE id = 1) FROM tokens t "
    "LEFT JOIN devices d ON d.device_id = t.device_id WHERE t.token_hash = ?"
)


class AuthTx(TxBase):
    """Authorization codes and LwA tokens (stored as digests)."""

    def insert_auth_code(self, code: AuthCode) -> None:
        """Store a new authorization code."""
        self._insert("auth_codes", code)

    def auth_code(self, code_hash: str) -> AuthCode | None:
        """Return an authorization code by digest."""
        return self._one(AuthCode, "SELECT * FROM auth_codes WHERE code_hash = ?", code_hash)

    def use_auth_code(self, code_hash: str) -> None:
        """Mark an authorization code used (codes are single use)."""
        self._conn.execute("UPDATE auth_codes SET used = 1 WHERE code_hash = ?", (code_hash,))

    def insert_token(self, token: Token) -> None:
        """Store a new token."""
        self._insert("tokens", token)

    def token(self, token_hash: str) -> Token | None:
        """Return a token by digest."""
        return self._one(Token, "SELECT * FROM tokens WHERE token_hash = ?", token_hash)

    def caller(self, token_hash: str) -> tuple[Token, Device | None] | None:
        """Return a token by digest and the device it is bound to, in one query.

        The device is returned whatever its state (deregistered included); None if the
        token is bound to none (a seller's or a grantless token). The same query reads
        the clock, if this transaction has not yet (see :meth:`.SettingsTx.now`).
        """
        row = self._cur.execute(_CALLER, (token_hash,)).fetchone()
        if row is None:
            return None
        if self._now is None:
            self._now = int(row[-1])
        device = row[_TOKEN_COLUMNS : _TOKEN_COLUMNS + _DEVICE_COLUMNS]
        return (
            from_values(Token, row[:_TOKEN_COLUMNS]),
            None if device[0] is None else from_values(Device, device),
        )

    def revoke_tokens(self, device_id: str, kind: str) -> int:
        """Revoke a device's live tokens of one kind; return how many."""
        cur = self._conn.execute(
            "UPDATE tokens SET revoked = 1 WHERE device_id = ? AND kind = ? AND revoked = 0",
            (device_id, kind),
        )
        return cur.rowcount

    def expire_access_tokens(self, device_id: str, at: int) -> int:
        """Make a device's unexpired access tokens expire at ``at``; return how many."""
        cur = self._conn.execute(
            "UPDATE tokens SET expires_at = ? WHERE device_id = ? AND kind = 'access' "
            "AND revoked = 0 AND expires_at > ?",
            (at, device_id, at),
        )
        return cur.rowcount
