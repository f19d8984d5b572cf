"""Transaction accessors for emulator-wide state: clock, settings, rate buckets, flags."""

import dataclasses
import json
from typing import Any

from .. import inputs
from .base import TxBase
from .records import Settings, setting_ok


class SettingsTx(TxBase):
    """The virtual clock, the order lifecycle settings, rate-limit buckets and flags."""

    def now(self) -> int:
        """Return the virtual clock (Unix seconds), read once per transaction."""
        if self._now is None:
            row = self._conn.execute("SELECT now FROM clock WHERE id = 1").fetchone()
            self._now = int(row[0])
        return self._now

    def set_now(self, t: int) -> None:
        """Store the virtual clock (use :mod:`.clock`, which also runs order transitions)."""
        self._conn.execute("UPDATE clock SET now = ? WHERE id = 1", (t,))
        self._now = t

    def forget_now(self) -> None:
        """Read the clock from the database again (after a rolled-back savepoint)."""
        self._now = None

    def settings(self) -> Settings:
        """Return the current settings (defaults for keys never set)."""
        stored: dict[str, Any] = {}
        for key, raw in self._conn.execute("SELECT key, value FROM settings"):
            try:
                value = inputs.load_json(raw)
            except inputs.InputError:
                value = None
            if setting_ok(key, value):  # bad data from an older emulator: use the default
                stored[key] = value
        return dataclasses.replace(Settings(), **stored)

    def update_settings(self, values: dict[str, Any]) -> None:
        """Store validated setting values."""
        self._conn.executemany(
            "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)",
            [(k, json.dumps(v)) for k, v in values.items()],
        )

    def bucket(self, key: str) -> tuple[float, int] | None:
        """Return (tokens, updated_at) of a rate-limit bucket."""
        row = self._conn.execute(
            "SELECT tokens, updated_at FROM rate_buckets WHERE key = ?", (key,)
        ).fetchone()
        return None if row is None else (float(row[0]), int(row[1]))

    def set_bucket(self, key: str, tokens: float, at: int) -> None:
        """Store a rate-limit bucket's level."""
        self._conn.execute(
            "INSERT OR REPLACE INTO rate_buckets (key, tokens, updated_at) VALUES (?, ?, ?)",
            (key, tokens, at),
        )

    def buckets(self) -> list[tuple[str, float, int]]:
        """Return every rate-limit bucket (key, tokens, updated_at)."""
        rows = self._conn.execute("SELECT key, tokens, updated_at FROM rate_buckets ORDER BY key")
        return [(str(r[0]), float(r[1]), int(r[2])) for r in rows]

    def clear_buckets(self) -> int:
        """Forget every bucket (they start full again); return how many there were."""
        return self._conn.execute("DELETE FROM rate_buckets").rowcount

    def flag(self, key: str, default: Any) -> Any:
        """Return a stored flag (JSON) or ``default``."""
        row = self._conn.execute("SELECT value FROM flags WHERE key = ?", (key,)).fetchone()
        if row is None:
            return default
        try:
            return inputs.load_json(row[0])
        except inputs.InputError:
            return default

    def set_flag(self, key: str, value: Any) -> None:
        """Store a flag (JSON)."""
        self._conn.execute(
            "INSERT OR REPLACE INTO flags (key, value) VALUES (?, ?)", (key, json.dumps(value))
        )
