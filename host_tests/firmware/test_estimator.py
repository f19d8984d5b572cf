import json

import pytest
from drsagent import estimator
from drsagent.policy import decide

from host_tests.fakes import DAY, HOUR, T0, slot_cfg

ALPHA = 0.3  # the level EMA weight
NEVER = 1e9  # days_left() when nothing is being used


class Estimator:
    """The estimator functions over one slot's plain dict, as the agent calls them."""

    def __init__(self, d, rearm=0.6):
        self.d = d
        self.c = {"rearm": rearm}

    @property
    def level(self):
        return estimator.level(self.d)

    @property
    def rate(self):
        return estimator.daily_rate(self.d)

    def days_left(self):
        return estimator.days_left(self.d)

    def update(self, x, t):
        return estimator.update(self.d, self.c, x, t)


def feed(est, levels, t0=T0, step=HOUR):
    t = t0
    out = []
    for x in levels:
        out.append(est.update(x, t))
        t += step
    return t


def test_first_reading_initialises():
    d = {}
    e = Estimator(d)
    assert e.level is None and e.rate == 0.0 and e.days_left() == NEVER
    assert e.update(0.8, T0) is False
    learning = {"l": 0.8, "t": T0, "rt": T0, "rl": 0.8, "l0": 0.8, "t0": T0}
    today = {"ud": [T0 // 86400, 8000, 0, 0]}  # the day being summed (usage.py)
    assert d == dict(learning, **today)


def test_level_is_an_ema():
    d = {}
    e = Estimator(d)
    e.update(0.8, T0)
    e.update(0.7, T0 + HOUR)
    assert e.level == pytest.approx(0.8 + ALPHA * (0.7 - 0.8), abs=1e-4)
    e.update(0.7, T0 + 2 * HOUR)
    assert 0.7 < e.level < 0.77


def test_rate_per_day_from_steady_use():
    d = {}
    e = Estimator(d)
    # 0.05 per day, read hourly for 10 days
    levels = [0.9 - 0.05 * h / 24 for h in range(240)]
    feed(e, levels)
    assert e.rate == pytest.approx(0.05, rel=0.1)
    assert e.days_left() == pytest.approx(e.level / e.rate)
    assert 7 < e.days_left() < 10


def test_increases_without_refill_are_not_negative_use():
    def rates(next_day):
        e = Estimator({})
        t = feed(e, [0.8 - 0.04 * h / 24 for h in range(72)])
        before, lvl = e.rate, e.level
        feed(e, [lvl + next_day(h) for h in range(24)], t0=t)
        return before, e.rate

    before, flat = rates(lambda h: 0.0)
    _, drift_up = rates(lambda h: 0.01 * h / 24)  # sensor creeps up, no refill
    assert before > 0.03 and flat < before  # a day without use pulls the rate down
    # a rising window is skipped: neither negative use nor even "no use"
    assert flat < drift_up <= before


def test_idle_days_pull_the_rate_down():
    d = {}
    e = Estimator(d)
    t = feed(e, [0.8 - 0.06 * h / 24 for h in range(72)])
    r = e.rate
    feed(e, [e.level] * 72, t0=t)
    assert 0 <= e.rate < r / 2


def test_refill_by_jump_resets_window_keeps_rate():
    d = {}
    e = Estimator(d)
    t = feed(e, [0.5 - 0.05 * h / 24 for h in range(96)])
    r = e.rate
    assert e.update(0.95, t) is True
    assert e.level == 0.95
    assert d["rl"] == 0.95 and d["rt"] == t
    assert e.rate == r  # usage habit unchanged
    # next windows measure use from the new level, not the jump
    feed(e, [0.95 - 0.05 * h / 24 for h in range(1, 48)], t0=t + HOUR)
    assert e.rate == pytest.approx(0.05, rel=0.15)


def test_refill_by_crossing_rearm():
    d = {}
    e = Estimator(d, rearm=0.6)
    e.update(0.45, T0)
    assert e.update(0.65, T0 + HOUR) is True  # +0.2 crosses rearm
    e2 = Estimator({}, rearm=0.6)
    e2.update(0.58, T0)
    assert e2.update(0.61, T0 + HOUR) is False  # noise around rearm is no refill
    e3 = Estimator({}, rearm=0.6)
    e3.update(0.7, T0)
    assert e3.update(0.9, T0 + HOUR) is False  # already above rearm, small rise


def test_a_refill_from_above_rearm_counts_while_a_delivery_is_expected():
    ordered_early = {}
    estimator.update(ordered_early, {"rearm": 0.6}, 0.72, T0)
    assert estimator.update(ordered_early, {"rearm": 0.6}, 1.0, T0 + HOUR, True) is True
    not_expected = {}
    estimator.update(not_expected, {"rearm": 0.6}, 0.72, T0)
    assert estimator.update(not_expected, {"rearm": 0.6}, 1.0, T0 + HOUR) is False
    small = {}
    estimator.update(small, {"rearm": 0.6}, 0.72, T0)
    assert estimator.update(small, {"rearm": 0.6}, 0.8, T0 + HOUR, True) is False


def test_state_is_plain_json_and_resumes():
    d = {}
    e = Estimator(d)
    t = feed(e, [0.9 - 0.05 * h / 24 for h in range(100)])
    copy = json.loads(json.dumps(d))
    history = {"uh", "ud"}  # the day-by-day history
    assert set(copy) <= {"l", "r", "t", "rl", "rt", "k", "u"} | history  # l0/t0 gone
    assert T0 < copy["u"] <= t  # last window with use
    e2 = Estimator(copy)
    assert e2.level == e.level and e2.rate == e.rate
    assert e2.update(e.level - 0.001, t) is False


def test_cold_start_night_does_not_seed_zero_rate():
    d = {}
    e = Estimator(d)
    t = feed(e, [0.3] * 9)  # a quiet night: 9 h without use
    assert e.rate == 0.0 and "k" not in d
    feed(e, [0.3 - 0.0075 * h for h in range(1, 7)], t0=t)  # morning use, 0.18/day pace
    # seeded within ~3 h of use (the EMA lag makes it conservative-low at first)
    assert d["k"] == 1 and 0.06 < e.rate < 0.25 and "l0" not in d
    assert decide(d, slot_cfg(lead_time_days=3, margin_days=1)) == "forecast"


def test_cold_start_slow_use_is_learned_too():
    d = {}
    e = Estimator(d)
    feed(e, [0.9 - 0.03 * h / 24 for h in range(48)])  # 0.03/day: no 1 h window shows it
    assert d.get("k", 0) >= 1 and e.rate == pytest.approx(0.03, rel=0.3)


# -- the day-by-day use history --------------------------------------------------


def mean_use(d):
    """Mean use per day over the history (fraction of a container)."""
    history = d.get("uh") or ()
    return sum(history) / len(history) / 10000 if history else 0.0


class Household:
    """A slot used `daily` a day in daytime hours, read hourly, refilled when low."""

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
                    self.level = 1.0
                estimator.update(self.d, {"rearm": 0.6}, round(self.level, 4), self.t)
        return self


def test_steady_use_is_learned_per_day():
    slot = Household().days([0.05] * 30)
    assert estimator.known_days(slot.d) == 28  # a fixed-size history
    assert mean_use(slot.d) == pytest.approx(0.05, abs=0.002)
    assert estimator.planning_rate(slot.d, 4) == pytest.approx(0.05, abs=0.003)


def test_a_refill_inside_a_day_does_not_hide_that_days_use():
    slot = Household(level=0.2).days([0.1] * 10)
    assert mean_use(slot.d) == pytest.approx(0.1, abs=0.004)


def test_a_rare_large_dose_counts_once_not_as_a_daily_rate():
    slot = Household().days([0.01] * 10 + [0.16] + [0.01] * 10)
    assert mean_use(slot.d) < 0.02
    # planning a week: the worst week seen, the dose included, not 16 %/day
    week = estimator.planning_rate(slot.d, 7)
    assert week == pytest.approx((0.16 + 6 * 0.01) / 7, abs=0.003)


def test_an_absence_keeps_the_habit_from_before():
    slot = Household().days([0.06] * 20 + [0.0] * 21)
    assert mean_use(slot.d) > 0.045  # only the first idle days count
    assert estimator.planning_rate(slot.d, 5) == pytest.approx(0.06, abs=0.003)
    slot.days([0.06])
    assert estimator.planning_rate(slot.d, 5) == pytest.approx(0.06, abs=0.003)


def test_weekends_are_not_an_absence():
    slot = Household().days(([0.08] * 5 + [0.0] * 2) * 4)
    assert mean_use(slot.d) == pytest.approx(0.08 * 5 / 7, abs=0.004)


def test_a_step_up_is_planned_with_within_the_horizon():
    slot = Household().days([0.03] * 28 + [0.09] * 3)
    # (a day closes on the smoothed level of its last reading: a little of the last
    # evening's use, still in the smoothing, counts for the next day)
    assert estimator.planning_rate(slot.d, 3) == pytest.approx(0.09, abs=0.008)
    slot.days([0.09] * 4)
    assert estimator.planning_rate(slot.d, 7) == pytest.approx(0.09, abs=0.005)


def test_a_step_up_is_planned_with_after_two_days_not_a_week():
    slot = Household().days([0.05, 0.04, 0.06, 0.05] * 7 + [0.1])
    week = estimator.planning_rate(slot.d, 8)
    assert week < 0.06  # one large day: a dose, maybe; it waits for the runs of days
    slot.days([0.09])
    # both days used more than any before: plan with the smaller, not a week's mean
    # that still holds six days of the old habit (0.065)
    assert estimator.planning_rate(slot.d, 8) == pytest.approx(0.09, abs=0.005)


def test_a_new_high_then_an_ordinary_day_is_no_step():
    history = [500, 400, 600, 500] * 6 + [700, 500]
    worst_run = max(sum(history[i : i + 8]) for i in range(len(history) - 7)) / 8 / 10000
    assert estimator.planning_rate({"uh": history}, 8) == worst_run
    two_doses = [100] * 20 + [1500, 1600]  # two large days: planned with, whatever they are
    assert estimator.planning_rate({"uh": two_doses}, 8) == 0.15


def test_days_without_readings_share_their_use():
    slot = Household().days([0.05] * 3)
    slot.level -= 0.15  # three days' use while the device was off
    slot.t += 3 * DAY
    slot.days([0.05] * 2)
    assert estimator.known_days(slot.d) == 8  # the last reading opens day 9
    assert mean_use(slot.d) == pytest.approx(0.05, abs=0.003)
    assert max(slot.d["uh"]) < 700  # no single day took the three days' use


def test_noise_that_recovers_cancels_out():
    d = {}
    for hour in range(3 * 24):
        x = 0.77 if 21 <= hour <= 27 else 0.8  # a dip over midnight that was not use
        estimator.update(d, {"rearm": 0.6}, x, T0 + hour * HOUR)
    assert estimator.known_days(d) == 2
    assert mean_use(d) == pytest.approx(0, abs=0.0005)


def test_days_that_end_empty_do_not_make_the_habit_look_smaller():
    slot = Household().days([0.05] * 5)
    d = slot.d
    t = slot.t
    for hour in range(1, 4 * 24):  # empty for four days: nothing to measure
        estimator.update(d, {"rearm": 0.6}, 0.0, t + hour * HOUR)
    assert mean_use(d) == pytest.approx(0.05, abs=0.005)
    assert estimator.known_days(d) == 5


def test_one_glitch_high_while_an_order_is_out_is_not_a_refill():
    """A rise under sensor.spike passes the reading filter alone: a refill needs the
    reading before it (`previous`) to be one too, so one glitch never re-arms a slot
    whose order is out (the agent would order again before the parcel is put in)."""
    c = {"rearm": 0.6, "sensor": {"spike": 0.3}}
    d = {}
    estimator.update(d, c, 0.72, T0)
    assert estimator.update(d, c, 0.95, T0 + HOUR, True, 0.72) is None  # held
    assert estimator.level(d) == 0.72, "held: the glitch does not move the level either"
    assert estimator.update(d, c, 0.71, T0 + 2 * HOUR, True, 0.95) is False
    # the real parcel: the next reading agrees
    assert estimator.update(d, c, 0.96, T0 + 3 * HOUR, True, 0.71) is None
    assert estimator.update(d, c, 0.97, T0 + 4 * HOUR, True, 0.96) is True
    # the same holds for a glitch across rearm
    low = {}
    estimator.update(low, c, 0.45, T0)
    assert estimator.update(low, c, 0.65, T0 + HOUR, False, 0.45) is None
    assert estimator.update(low, c, 0.66, T0 + 2 * HOUR, False, 0.65) is True
    # a jump over sensor.spike was confirmed by the reading filter already
    jump = {}
    estimator.update(jump, c, 0.2, T0)
    assert estimator.update(jump, c, 0.95, T0 + HOUR, False, 0.2) is True


def test_a_refill_put_in_while_the_device_was_off_is_no_use_at_all():
    """Off for two days, back to a full container: the days it missed close on the level
    before the refill. Closed on the new reading, they counted as negative use and the
    refill day as the same amount of use, a made-up 'bad stretch' the policy planned
    with (it ordered at 88 % left)."""
    c = {"rearm": 0.6, "sensor": {"spike": 0.3}}
    d = {}
    e = Estimator(d)
    e.c = c
    t = feed(e, [0.5 - 0.03 * h / 24 for h in range(5 * 24)])  # 3 % a day
    t += 40 * HOUR  # the device is off; the household puts a full container in
    assert estimator.update(d, c, 0.97, t, True, e.level) is True
    feed(e, [0.97 - 0.03 * h / 24 for h in range(1, 5 * 24)], t0=t + HOUR)
    assert min(d["uh"]) > -0.01 * 10000, d["uh"]
    assert estimator.planning_rate(d, 2) < 0.05, d["uh"]
