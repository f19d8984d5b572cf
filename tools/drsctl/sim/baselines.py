"""The policies the firmware's is measured against, on the same traces.

Both run in a small hour-by-hour model of the same world the simulator drives: the
trace's use, one order at a time, each order delivered after its lead time from the
trace, the household putting it in 1-8 hours later. They see the true level (no
sensor), which only flatters them.

- fixed threshold: order when the level is at or below 20 %;
- textbook reorder point: order at lead-time demand + 1.65 sigma, with the nominal
  lead time (the device's configured ``lead_time_days``), the daily mean and sigma from
  the last 28 days of use;
- zero-stockout bound: knows the use to come (not the next lead time) and orders when
  the level is down to the use of the longest delivery plus the household's slowest
  put-in (7 days + 8 hours): the least stock that never runs dry with these lead times.
  Where even it misses a target, the target cannot be met on that trace.
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from drsctl.sim.traces import HOURS_PER_DAY

# Whether to order now, from the hours elapsed, the level and the use per day so far
# (oldest first).
Policy = Callable[[int, float, Sequence[float]], bool]

REFILL_DELAY_H = (1.0, 8.0)
HISTORY_DAYS = 28


@dataclass
class Outcome:
    """What one policy did on one trace."""

    orders: int
    stockout_hours: int
    stockout_days: int
    stock_left: list[float]
    duplicates: int = 0
    requests: int | None = None
    cannot_stock: bool = False  # the device reported that the slot cannot be kept stocked

    @property
    def stock_left_mean(self) -> float:
        """Mean true level when a new container went in (0 without refills)."""
        return statistics.fmean(self.stock_left) if self.stock_left else 0.0

    @property
    def stock_left_max(self) -> float:
        """Highest true level when a new container went in."""
        return max(self.stock_left, default=0.0)


def fixed_threshold(threshold: float = 0.2) -> Policy:
    """Order at or below ``threshold``."""
    return lambda _now, level, _daily: level <= threshold


def reorder_point(lead_days: float = 3.0, z: float = 1.65) -> Policy:
    """Order at mean demand over ``lead_days`` + z sigma (daily stats of the last 28 days)."""

    def decide(_now: int, level: float, daily: Sequence[float]) -> bool:
        recent = daily[-HISTORY_DAYS:]
        if not recent:
            return level <= 0.2  # no history yet: behave like the threshold
        mean = statistics.fmean(recent)
        sigma = statistics.pstdev(recent) if len(recent) > 1 else 0.0
        return level <= mean * lead_days + z * sigma * math.sqrt(lead_days)

    return decide


def zero_stockout_bound(use: Sequence[float], longest_lead_days: float) -> Policy:
    """Order when the level is down to the use to come (known in advance).

    The use of the next ``longest_lead_days`` plus the longest put-in delay.
    """
    cover = int(longest_lead_days * HOURS_PER_DAY + REFILL_DELAY_H[1])
    to_come = [0.0, *itertools.accumulate(use)]  # to_come[h]: use before hour h

    def decide(now: int, level: float, _daily: Sequence[float]) -> bool:
        end = min(now + cover, len(use))
        return level <= to_come[end] - to_come[min(now, end)]

    return decide


def run(
    policy: Policy,
    use: Sequence[float],
    lead_time_hours: Sequence[float],
    start_level: float,
    seed: int,
) -> Outcome:
    """Drive ``policy`` through ``use`` (per hour) with one order at a time."""
    rng = random.Random(seed)
    level = start_level
    orders = 0
    deliver_at: float | None = None
    refill_at: float | None = None
    ordered = False
    stockout_hours: set[int] = set()
    stock_left: list[float] = []
    daily: list[float] = []
    today = 0.0
    for hour, wanted in enumerate(use):
        if wanted > 0:
            if level < wanted:
                stockout_hours.add(hour)
            today += min(level, wanted)  # use as the history sees it: what was there
            level = max(0.0, level - wanted)
        now = hour + 1
        if (hour + 1) % HOURS_PER_DAY == 0:
            daily.append(today)
            today = 0.0
        if deliver_at is not None and now >= deliver_at:
            refill_at = deliver_at + rng.uniform(*REFILL_DELAY_H)
            deliver_at = None
        if refill_at is not None and now >= refill_at:
            stock_left.append(level)
            level = 1.0
            refill_at = None
            ordered = False
        if not ordered and policy(now, level, daily):
            deliver_at = now + lead_time_hours[orders % len(lead_time_hours)]
            orders += 1
            ordered = True
    return Outcome(
        orders=orders,
        stockout_hours=len(stockout_hours),
        stockout_days=len({h // HOURS_PER_DAY for h in stockout_hours}),
        stock_left=stock_left,
    )
