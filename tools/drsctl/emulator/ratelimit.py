"""Token buckets for the SP-API usage plans and MWS throttling, on the virtual clock.

Amazon's buckets refill in real time. Here they refill with the **virtual clock**, so a
test empties a bucket, sees the 429 (or MWS ``RequestThrottled``), advances the clock
and goes on, without ever sleeping; a client that waits on the wall clock gets its
quota back only when the clock is moved (the simulator moves it all the time).
``POST /_emulator/rate-limits {"enabled": false}`` turns throttling off and
``DELETE /_emulator/rate-limits`` refills every bucket.

A bucket holds up to ``burst`` requests and gains ``rate`` requests per (virtual)
second; each request takes one. Buckets are kept per selling partner, application
and operation, as Amazon's are.
"""

import dataclasses

from .store import Tx

ENABLED_FLAG = "rate_limits_enabled"


@dataclasses.dataclass(frozen=True)
class Plan:
    """A usage plan: ``rate`` requests per second, up to ``burst`` at once."""

    rate: float
    burst: int

    @property
    def header(self) -> str:
        """The ``x-amzn-RateLimit-Limit`` value (requests per second)."""
        return repr(float(self.rate))


@dataclasses.dataclass(frozen=True)
class Outcome:
    """The result of taking from a bucket: allowed or not, and what is left."""

    allowed: bool
    remaining: float
    seconds_to_next: float


def enabled(tx: Tx) -> bool:
    """Return whether throttling is on (the default)."""
    return bool(tx.flag(ENABLED_FLAG, True))


def take(tx: Tx, key: str, plan: Plan, now: int) -> Outcome:
    """Take one request from bucket ``key`` (created full); refill by elapsed virtual time."""
    stored = tx.bucket(key)
    tokens = float(plan.burst) if stored is None else stored[0]
    if stored is not None and now > stored[1]:
        tokens = min(float(plan.burst), tokens + plan.rate * (now - stored[1]))
    if not enabled(tx):
        outcome = Outcome(True, tokens, 0.0)
    # A float epsilon: 60 s at 0.0167/s is one request, not 0.99999.
    elif tokens + 1e-9 < 1.0:
        outcome = Outcome(False, tokens, (1.0 - tokens) / plan.rate)
    else:
        tokens = max(tokens - 1.0, 0.0)
        outcome = Outcome(True, tokens, 0.0)
    if stored != (tokens, now):  # a level unchanged (throttling off, same time) stays as is
        tx.set_bucket(key, tokens, now)
    return outcome
