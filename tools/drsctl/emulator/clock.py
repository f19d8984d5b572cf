"""The virtual clock, persisted in the store.

It starts at the wall time when the database is created (rounded to the second) and
only moves when told to; every move runs the order transitions that fell due, and the
first move into a new virtual day purges what is older than ``retention_days``.
"""

import functools
import time
from datetime import UTC, datetime
from typing import Any

from . import inputs, orders
from .store import Tx

MIN_T = 0
"""Earliest virtual time: 1970-01-01T00:00:00Z."""
MAX_T = 253402300799
"""Latest virtual time: 9999-12-31T23:59:59Z (far inside SQLite's INTEGER)."""
DAY = 86400


class ClockError(ValueError):
    """The requested clock change is not allowed (out of range, or backwards)."""


def set_to(tx: Tx, t: Any) -> int:
    """Move the clock to ``t`` (not backwards), run due transitions, return the new time."""
    if not inputs.number_within(t, MIN_T, MAX_T):
        raise ClockError(f"set must be a number of Unix seconds within {MIN_T}..{MAX_T}")
    t = round(t)
    current = tx.now()
    if t < current:
        raise ClockError(f"the clock cannot go backwards ({t} < {current})")
    tx.set_now(t)
    orders.advance_to(tx, t)
    retention = tx.settings().retention_days
    if retention and t // DAY != current // DAY:  # once per virtual day is enough
        tx.purge_before(t - retention * DAY)
    return t


def advance(tx: Tx, seconds: Any) -> int:
    """Move the clock forward by ``seconds`` (rounded to whole seconds)."""
    if not inputs.finite_number(seconds) or seconds < 0:
        raise ClockError("advance must be a finite, non-negative number of seconds")
    current = tx.now()
    if round(seconds) > MAX_T - current:
        raise ClockError(f"advance must keep the clock at or before {MAX_T} (year 9999)")
    return set_to(tx, current + round(seconds))


@functools.lru_cache(maxsize=8192)
def _utc_fields(t: int) -> time.struct_time:
    """Unix seconds as UTC calendar fields, clamped to ``MIN_T..MAX_T``.

    Clamping keeps every read route answering even for times stored by an older
    emulator that did not check the range. Cached: a page of orders formats the same
    few times again and again.
    """
    return time.gmtime(min(max(t, MIN_T), MAX_T))


@functools.lru_cache(maxsize=8192)
def iso(t: int) -> str:
    """Format Unix seconds as ISO-8601 UTC, e.g. ``2026-01-05T07:59:59Z``.

    Cached: a getOrders page formats four times per order, mostly the same few seconds.
    """
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", _utc_fields(t))


@functools.lru_cache(maxsize=8192)
def iso_ms(t: int) -> str:
    """Format Unix seconds like DRS does, e.g. ``2017-01-05T07:59:59.000Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", _utc_fields(t))


def parse_iso(text: str) -> int:
    """Parse an ISO-8601 date or date-time (``Z`` or offset; naive means UTC) to Unix seconds.

    Raises ``TypeError`` for a non-string and ``ValueError`` for anything unparsable or
    not representable (e.g. year 9999 with a negative offset).
    """
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return int(parsed.timestamp())
    except (OverflowError, OSError) as exc:
        raise ValueError(f"date-time out of range: {exc}") from None
