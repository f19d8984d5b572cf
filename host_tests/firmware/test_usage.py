"""The daily-use history (drsagent.usage) on synthetic consumption."""

import json

import pytest
from drsagent import usage

DAY = 86400
HOUR = 3600
T0 = 1893456000  # a midnight UTC


class Slot:
    """A slot's dict fed with hourly levels, as the agent does."""

    def __init__(self, level=1.0):
        self.d = {}
        self.level = level
        self.t = T0

    def days(self, daily_uses):
        for used in daily_uses:
            for _ in range(24):
                self.t += HOUR
                if 7 <= (self.t % DAY) // HOUR < 23:
                    self.level -= used / 16
                if self.level < 0.15:  # a refill whenever it runs low
                    before, self.level = self.level, 1.0
                    usage.refilled(self.d, before, self.level)
                usage.observe(self.d, round(self.level, 4), self.t)
        return self


def test_steady_use_is_learned_per_day():
    slot = Slot().days([0.05] * 30)
    assert usage.known_days(slot.d) == 28  # a fixed-size history
    assert usage.mean_rate(slot.d) == pytest.approx(0.05, abs=0.001)
    assert usage.planning_rate(slot.d, 4) == pytest.approx(0.05, abs=0.001)


def test_a_refill_inside_a_day_does_not_hide_that_days_use():
    slot = Slot(level=0.2).days([0.1] * 10)
    assert usage.mean_rate(slot.d) == pytest.approx(0.1, abs=0.002)


def test_a_rare_large_dose_counts_once_not_as_a_daily_rate():
    slot = Slot().days([0.01] * 10 + [0.16] + [0.01] * 10)
    assert usage.mean_rate(slot.d) < 0.02
    # planning a week: the worst week seen, the dose included, not 16 %/day
    week = usage.planning_rate(slot.d, 7)
    assert week == pytest.approx((0.16 + 6 * 0.01) / 7, abs=0.002)


def test_an_absence_keeps_the_habit_from_before():
    slot = Slot().days([0.06] * 20 + [0.0] * 21)
    assert usage.mean_rate(slot.d) > 0.045  # only the first idle days count
    assert usage.planning_rate(slot.d, 5) == pytest.approx(0.06, abs=0.002)
    slot.days([0.06])
    assert usage.planning_rate(slot.d, 5) == pytest.approx(0.06, abs=0.002)


def test_weekends_are_not_an_absence():
    slot = Slot().days(([0.08] * 5 + [0.0] * 2) * 4)
    assert usage.mean_rate(slot.d) == pytest.approx(0.08 * 5 / 7, abs=0.003)


def test_a_step_up_is_planned_with_within_the_horizon():
    slot = Slot().days([0.03] * 28 + [0.09] * 3)
    assert usage.planning_rate(slot.d, 3) == pytest.approx(0.09, abs=0.002)
    assert usage.planning_rate(slot.d, 7) < 0.09  # not yet a whole week of it
    slot.days([0.09] * 4)
    assert usage.planning_rate(slot.d, 7) == pytest.approx(0.09, abs=0.002)


def test_days_without_readings_share_their_use():
    slot = Slot().days([0.05] * 3)
    level = slot.level - 0.15  # three days' use while the device was off
    usage.observe(slot.d, level, slot.t + 3 * DAY)
    assert usage.known_days(slot.d) == 6
    assert usage.mean_rate(slot.d) == pytest.approx(0.05, abs=0.002)


def test_noise_that_recovers_cancels_out():
    d = {}
    t = T0 + 12 * HOUR
    usage.observe(d, 0.8, t)
    usage.observe(d, 0.77, t + 12 * HOUR)  # a dip over midnight ...
    usage.observe(d, 0.8, t + 36 * HOUR)  # ... that was not use
    assert usage.known_days(d) == 2
    assert usage.mean_rate(d) == 0


def test_the_history_survives_a_reboot_and_broken_values_are_dropped():
    slot = Slot().days([0.04, 0.05, 0.06] * 5)
    after = json.loads(json.dumps(slot.d))
    usage.repair(after)
    assert after == slot.d
    for broken in ({"uh": "x"}, {"uh": [1, None]}, {"uh": [10**6]}, {"ud": "today"}):
        d = dict(slot.d, **broken)
        usage.repair(d)
        usage.observe(d, 0.5, slot.t + DAY)  # no exception, learning goes on
        assert usage.planning_rate(d, 3) >= 0
