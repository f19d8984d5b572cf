"""The virtual clock, persisted in the store.

It starts at the wall time when the database is created (rounded to the second) and
only moves when told to; every move runs the order transitions that fell due.
"""

from datetime import UTC, datetime

from . import orders
from .store import Tx


class ClockError(ValueError):
    """The requested clock change is not allowed (time never goes backwards)."""


def set_to(tx: Tx, t: int) -> int:
    """Move the clock to ``t`` (not backwards), run due transitions, return the new time."""
    current = tx.now()
    if t < current:
        raise ClockError(f"the clock cannot go backwards ({t} < {current})")
    tx.set_now(t)
    orders.advance_to(tx, t)
    return t


def advance(tx: Tx, seconds: float) -> int:
    """Move the clock forward by ``seconds`` (rounded to whole seconds)."""
    if seconds < 0:
        raise ClockError("advance must not be negative")
    return set_to(tx, tx.now() + round(seconds))


def iso(t: int) -> str:
    """Format Unix seconds as ISO-8601 UTC, e.g. ``2026-01-05T07:59:59Z``."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_ms(t: int) -> str:
    """Format Unix seconds like DRS does, e.g. ``2017-01-05T07:59:59.000Z``."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def parse_iso(text: str) -> int:
    """Parse an ISO-8601 date or date-time (``Z`` or offset; naive means UTC) to Unix seconds."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())
