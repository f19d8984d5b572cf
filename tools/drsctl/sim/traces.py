"""Consumption traces: hour-by-hour use and each delivery's real lead time.

A trace drives the simulated world instead of the built-in random use: the CSV has
``hour,used_fraction`` (one slot) or ``hour,slot,used_fraction`` (several slots), the
fraction of a full container used in that hour since the start (absent hours: no use).
Lead times come from JSON, ``{"lead_time_hours": [h1, h2, ...]}`` (the 1st, 2nd, ...
order of every slot) or per slot ``{"lead_time_hours": {"<slot>": [...]}}`` (the inner
object may also stand alone); when a run places more orders than listed, the list
starts over. ``docs/contracts.md`` section 3 has the formats.

The generators here make the year-long, seeded traces of the policy benchmark.
"""

from __future__ import annotations

import csv
import json
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from drsctl.sim.consumption import SlotWorld

HOUR = 3600
HOURS_PER_DAY = 24
YEAR_HOURS = 365 * HOURS_PER_DAY
DEFAULT_SLOT = "slot-1"
# Use happens between 07:00 and 23:00, like the built-in household.
_DAYTIME = range(7, 23)


class TraceError(ValueError):
    """A trace or lead-time file that cannot be used (the message says where and why)."""


@dataclass
class Trace:
    """Hourly use per slot, and optionally each order's delivery lead time per slot."""

    name: str
    use: dict[str, list[float]]
    lead_time_hours: dict[str, list[float]] = field(default_factory=dict)
    sensor_noise: float = 0.003
    glitch_rate: float = 0.0
    about: str = ""

    @property
    def hours(self) -> int:
        """Length of the trace in hours (the longest slot)."""
        return max((len(u) for u in self.use.values()), default=0)


# -- files --------------------------------------------------------------------


def load_csv(path: Path) -> dict[str, list[float]]:
    """Read a trace CSV into {slot: use per hour}; :class:`TraceError` on a bad file."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    rows = csv.reader(text.splitlines())
    header = [h.strip() for h in next(rows, [])]
    if header not in (["hour", "used_fraction"], ["hour", "slot", "used_fraction"]):
        raise TraceError(
            f"{path}:1: header must be 'hour,used_fraction' or 'hour,slot,used_fraction',"
            f" got {','.join(header)!r}"
        )
    per_slot = len(header) == 3
    found: dict[str, dict[int, float]] = {}
    for line_no, row in enumerate(rows, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise TraceError(f"{path}:{line_no}: expected {len(header)} columns, got {len(row)}")
        hour_text, used_text = row[0].strip(), row[-1].strip()
        slot = row[1].strip() if per_slot else DEFAULT_SLOT
        if not hour_text.isdigit():
            raise TraceError(f"{path}:{line_no}: hour must be an integer >= 0, got {hour_text!r}")
        try:
            used = float(used_text)
        except ValueError:
            used = math.nan
        if not 0.0 <= used <= 1.0:  # NaN fails too
            raise TraceError(
                f"{path}:{line_no}: used_fraction must be a number in [0, 1], got {used_text!r}"
            )
        if not slot:
            raise TraceError(f"{path}:{line_no}: empty slot id")
        hours = found.setdefault(slot, {})
        hour = int(hour_text)
        if hour in hours:
            raise TraceError(f"{path}:{line_no}: hour {hour} of slot {slot!r} given twice")
        hours[hour] = used
    if not found:
        raise TraceError(f"{path}: no rows after the header")
    length = max(max(hours) for hours in found.values()) + 1
    return {slot: [hours.get(h, 0.0) for h in range(length)] for slot, hours in found.items()}


def load_lead_times(
    path: Path, slots: Sequence[str] | None = None
) -> list[float] | dict[str, list[float]]:
    """Read a lead-time JSON: one list of hours for every slot, or ``{slot: hours}``.

    The slots are checked against ``slots`` when known; :class:`TraceError` on a bad file.
    """
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    except json.JSONDecodeError as exc:
        raise TraceError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise TraceError(
            f'{path}: expected {{"lead_time_hours": [hours, ...]}} or one list per slot'
        )
    data = data.get("lead_time_hours", data)
    if isinstance(data, list):
        return _lead_list(path, "lead_time_hours", data)
    if not isinstance(data, dict) or not data:
        raise TraceError(f"{path}: lead_time_hours: expected a list, or one list per slot")
    if slots is not None:
        unknown = sorted(set(data) - set(slots))
        if unknown:
            raise TraceError(f"{path}: slot {unknown[0]!r} is not simulated ({', '.join(slots)})")
        missing = [slot for slot in slots if slot not in data]
        if missing:
            raise TraceError(f"{path}: no lead times for slot {missing[0]!r}")
    return {slot: _lead_list(path, slot, hours) for slot, hours in data.items()}


def _lead_list(path: Path, key: str, value: object) -> list[float]:
    if not isinstance(value, list) or not value:
        raise TraceError(f"{path}: {key}: expected a non-empty list of hours")
    for i, hours in enumerate(value):
        if isinstance(hours, bool) or not isinstance(hours, int | float) or not hours >= 1:
            raise TraceError(f"{path}: {key}[{i}]: expected a number of hours >= 1, got {hours!r}")
        if not math.isfinite(hours):
            raise TraceError(f"{path}: {key}[{i}]: expected a finite number, got {hours!r}")
    return [float(h) for h in value]


def write_csv(path: Path, use: dict[str, list[float]]) -> None:
    """Write ``use`` as a trace CSV (one-slot form when there is one slot)."""
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        single = len(use) == 1
        writer.writerow(["hour", "used_fraction"] if single else ["hour", "slot", "used_fraction"])
        for slot, hours in use.items():
            for hour, used in enumerate(hours):
                if used > 0:
                    row = [hour, f"{used:.6f}"]
                    writer.writerow(row if single else [hour, slot, row[1]])


def fixed_lead_times(days: float) -> list[float]:
    """The lead time of every order: ``days``."""
    return [days * HOURS_PER_DAY]


def uniform_lead_times(low_days: float, high_days: float, rng: random.Random) -> list[float]:
    """Lead times drawn evenly from [low_days, high_days], one per order (enough for a year)."""
    return [round(rng.uniform(low_days, high_days) * HOURS_PER_DAY, 1) for _ in range(400)]


def lead_distribution(spec: str, rng: random.Random) -> list[float]:
    """``fixed:DAYS`` or ``uniform:LO:HI`` (days) -> lead times per order."""
    kind, _, rest = spec.partition(":")
    try:
        values = [float(v) for v in rest.split(":")] if rest else []
    except ValueError:
        values = []
    shortest = 1 / HOURS_PER_DAY  # an hour: the simulator's tick
    if kind == "fixed" and len(values) == 1 and shortest <= values[0] < math.inf:
        return fixed_lead_times(values[0])
    if kind == "uniform" and len(values) == 2 and shortest <= values[0] <= values[1] < math.inf:
        return uniform_lead_times(values[0], values[1], rng)
    raise TraceError(
        f"lead times must be fixed:DAYS or uniform:LO:HI (days, at least an hour), got {spec!r}"
    )


# -- the simulated world ------------------------------------------------------


class TraceWorld(SlotWorld):
    """A slot whose use comes from a trace: the hours since ``start`` index it.

    A stockout hour is an hour whose use the slot could not (fully) give; ``start`` is
    a midnight, so its hours and days count like the built-in world's.
    """

    def __init__(
        self,
        slot_id: str,
        use: list[float],
        start: int,
        sensor_noise: float = 0.003,
        glitch_rate: float = 0.0,
    ) -> None:
        mean_daily = sum(use) / max(1, len(use) / HOURS_PER_DAY)
        super().__init__(slot_id=slot_id, daily_use=mean_daily, sensor_noise=sensor_noise)
        self.use = use
        self.start = start
        self.glitch_rate = glitch_rate

    def consume(self, t_from: int, t_to: int, rng: random.Random, day0: int) -> None:
        """Use what the trace says for every whole hour in [t_from, t_to)."""
        for hour in range((t_from - self.start) // HOUR, (t_to - self.start) // HOUR):
            wanted = self.use[hour] if 0 <= hour < len(self.use) else 0.0
            if wanted <= 0:
                continue
            if self.level < wanted:
                self.stockout_hours.add(hour)
                self.stockout_days.add(hour // HOURS_PER_DAY)
                if self.empty_since is None:
                    self.empty_since = self.start + hour * HOUR
            self.level = max(0.0, self.level - wanted)

    def raw(self, rng: random.Random) -> float | None:
        """The sensor, now and then glitching (no reading, NaN, or a wild value)."""
        if self.glitch_rate and rng.random() < self.glitch_rate:
            return rng.choice([None, math.nan, self.empty_raw + rng.random() * self.full_raw])
        return super().raw(rng)


# -- year-long generators -----------------------------------------------------


def _daytime(daily: list[float], rng: random.Random, spread: float = 0.5) -> list[float]:
    """Spread each day's use over its daytime hours, unevenly."""
    hourly: list[float] = []
    for amount in daily:
        weights = [max(0.0, 1 + rng.gauss(0, spread)) for _ in _DAYTIME]
        total = sum(weights) or 1.0
        day = [0.0] * HOURS_PER_DAY
        for hour, weight in zip(_DAYTIME, weights, strict=True):
            day[hour] = round(amount * weight / total, 6)
        hourly.extend(day)
    return hourly


def _noisy(mean: float, noise: float, rng: random.Random) -> float:
    return max(0.0, rng.gauss(mean, mean * noise))


def steady(rng: random.Random, days: int = 365) -> list[float]:
    """About 5 % a day (a container lasts ~20 days), 25 % day-to-day noise."""
    return _daytime([_noisy(0.05, 0.25, rng) for _ in range(days)], rng)


def weekly(rng: random.Random, days: int = 365) -> list[float]:
    """An office: 8 % a day on weekdays, next to nothing at weekends."""
    return _daytime([_noisy(0.08 if d % 7 < 5 else 0.005, 0.2, rng) for d in range(days)], rng)


def growth(rng: random.Random, days: int = 365) -> list[float]:
    """Use that grows from 3 % to 6 % a day, then steps up to 10 % for the last third."""
    daily = [0.03 + 0.03 * d / days if d < 2 * days // 3 else 0.1 for d in range(days)]
    return _daytime([_noisy(m, 0.2, rng) for m in daily], rng)


def absences(rng: random.Random, days: int = 365) -> list[float]:
    """6 % a day with three absences of one to three weeks."""
    away: set[int] = set()
    for first in (60, 170, 290):
        start = first + rng.randrange(20)
        away.update(range(start, start + rng.randrange(7, 22)))
    return _daytime([0.0 if d in away else _noisy(0.06, 0.25, rng) for d in range(days)], rng)


def doses(rng: random.Random, days: int = 365) -> list[float]:
    """A pet feeder: 1 % a day plus a large dose (10-20 %) every 8 to 25 days."""
    daily = [_noisy(0.01, 0.3, rng) for _ in range(days)]
    day = rng.randrange(8)
    while day < days:
        daily[day] += rng.uniform(0.1, 0.2)
        day += rng.randrange(8, 26)
    return _daytime(daily, rng, spread=3.0)


def fast(rng: random.Random, days: int = 365) -> list[float]:
    """A fast consumer: 10 % a day, a container lasts about 10 days."""
    return _daytime([_noisy(0.1, 0.2, rng) for _ in range(days)], rng)


def too_fast(rng: random.Random, days: int = 365) -> list[float]:
    """25 % a day: a container lasts 4 days, less than most deliveries take."""
    return _daytime([_noisy(0.25, 0.15, rng) for _ in range(days)], rng)


@dataclass(frozen=True)
class TraceSpec:
    """One benchmark trace: how its use and its lead times are made."""

    name: str
    make_use: Callable[[random.Random, int], list[float]]
    lead_days: tuple[float, float] = (1.0, 7.0)
    sensor_noise: float = 0.003
    glitch_rate: float = 0.0


BENCHMARK_TRACES = (
    TraceSpec("steady", steady),
    TraceSpec("weekly", weekly),
    TraceSpec("growth-step", growth),
    TraceSpec("absences", absences),
    TraceSpec("rare-doses", doses),
    TraceSpec("fast-slow-delivery", fast, lead_days=(3.0, 7.0)),
    TraceSpec("noisy-glitchy-sensor", steady, sensor_noise=0.01, glitch_rate=0.02),
    TraceSpec("container-shorter-than-lead", too_fast, lead_days=(3.0, 7.0)),
)


def generate(spec: TraceSpec, seed: int, days: int = 365) -> Trace:
    """The trace ``spec`` makes with ``seed`` (the same seed, the same trace)."""
    rng = random.Random(f"{spec.name}:{seed}")
    use = spec.make_use(rng, days)
    leads = uniform_lead_times(spec.lead_days[0], spec.lead_days[1], rng)
    doc = (spec.make_use.__doc__ or "").strip()
    return Trace(
        name=spec.name,
        use={DEFAULT_SLOT: use},
        lead_time_hours={DEFAULT_SLOT: leads},
        sensor_noise=spec.sensor_noise,
        glitch_rate=spec.glitch_rate,
        about=doc,
    )


def daily_totals(use: list[float]) -> list[float]:
    """Hourly use -> use per day (the last, partial day included)."""
    return [sum(use[h : h + HOURS_PER_DAY]) for h in range(0, len(use), HOURS_PER_DAY)]
