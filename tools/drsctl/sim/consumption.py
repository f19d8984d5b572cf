"""How a household uses up a consumable, and what the sensor in the slot reads.

This is the layer below the firmware: the physical world. Daily use has noise and
happens in the daytime; a delivered refill is put in a few hours after it arrives.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

DAY = 86400


@dataclass
class SlotWorld:
    """One slot's true fill level and the raw sensor reading it produces."""

    slot_id: str
    daily_use: float  # mean fraction of a full container used per day
    noise: float = 0.25  # relative day-to-day variation of use
    empty_raw: float = 12000.0  # raw sensor value when empty (HX711 counts)
    full_raw: float = 845000.0  # raw sensor value when full
    sensor_noise: float = 0.003  # fraction of full scale
    level: float = 1.0
    refill_at: int | None = None
    empty_since: int | None = None
    stockout_days: set[int] = field(default_factory=set)
    # hours (since the first midnight) in which use was wanted and the slot was empty
    stockout_hours: set[int] = field(default_factory=set)
    stock_left: list[float] = field(default_factory=list)  # true level at each refill
    garbage: str | None = None  # "none" | "nan" | "stuck": a broken sensor

    def consume(self, t_from: int, t_to: int, rng: random.Random, day0: int) -> None:
        """Use the consumable from ``t_from`` to ``t_to`` (daytime use only)."""
        hours = (t_to - t_from) / 3600.0
        hour_of_day = ((t_from - day0) % DAY) / 3600.0
        # Use happens between 07:00 and 23:00: 16 h a day carry the whole day's use.
        if 7 <= hour_of_day < 23:
            rate = self.daily_use / 16.0 * max(0.0, rng.gauss(1.0, self.noise))
            if self.level < rate * hours:
                self.stockout_hours.add((t_from - day0) // 3600)
            self.level = max(0.0, self.level - rate * hours)
        if self.level <= 0.0:
            if self.empty_since is None:
                self.empty_since = t_from
            self.stockout_days.add((t_to - day0) // DAY)

    def maybe_refill(self, now: int) -> bool:
        """Put a delivered container in once its refill time has come."""
        if self.refill_at is not None and now >= self.refill_at:
            self.stock_left.append(self.level)
            self.level = 1.0
            self.refill_at = None
            self.empty_since = None
            return True
        return False

    def raw(self, rng: random.Random) -> float | None:
        """What the sensor reports now: calibrated counts with a little noise."""
        if self.garbage == "none":
            return None
        if self.garbage == "nan":
            return math.nan
        if self.garbage == "stuck":
            return 1234567.0
        reading = self.level + rng.gauss(0.0, self.sensor_noise)
        return round(self.empty_raw + reading * (self.full_raw - self.empty_raw), 1)


def default_worlds(count: int, rng: random.Random) -> list[SlotWorld]:
    """``count`` slots with different, realistic consumption speeds."""
    speeds = [0.045, 0.07, 0.03, 0.055, 0.09, 0.025, 0.06, 0.04]
    return [
        SlotWorld(
            slot_id=f"slot-{i + 1}", daily_use=speeds[i % len(speeds)] * rng.uniform(0.9, 1.1)
        )
        for i in range(count)
    ]
