import json

import pytest
from drsagent import estimator
from drsagent.policy import decide

from host_tests.fakes import HOUR, T0, slot_cfg

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
    assert d == {"l": 0.8, "t": T0, "rt": T0, "rl": 0.8, "l0": 0.8, "t0": T0}


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


def test_state_is_plain_json_and_resumes():
    d = {}
    e = Estimator(d)
    t = feed(e, [0.9 - 0.05 * h / 24 for h in range(100)])
    copy = json.loads(json.dumps(d))
    assert set(copy) <= {"l", "r", "t", "rl", "rt", "k", "u"}  # l0/t0 gone once learned
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
    assert decide(e.level, e.rate, slot_cfg(lead_time_days=3, margin_days=1)) == "forecast"


def test_cold_start_slow_use_is_learned_too():
    d = {}
    e = Estimator(d)
    feed(e, [0.9 - 0.03 * h / 24 for h in range(48)])  # 0.03/day: no 1 h window shows it
    assert d.get("k", 0) >= 1 and e.rate == pytest.approx(0.03, rel=0.3)
