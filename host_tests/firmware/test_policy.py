import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest_brain import DAY, HOUR, T0, slot_cfg  # noqa: E402
from drsagent import agent  # noqa: E402  (the estimator and the decision live there)
from drsagent.agent import decide  # noqa: E402

ALPHA = 0.3  # the level EMA weight
NEVER = 1e9  # days_left() when nothing is being used


class Estimator:
    """Test view of the estimator functions over one slot's plain dict."""

    def __init__(self, d, rearm=0.6):
        self.d = d
        self.c = {"rearm": rearm}

    @property
    def level(self):
        return self.d.get("l")

    @property
    def rate(self):
        return self.d.get("r", 0.0)

    def days_left(self):
        return agent.days_left(self.d)

    def update(self, x, t):
        return agent.update(self.d, self.c, x, t)


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


def test_decide_floor():
    e = Estimator({"l": 0.08, "r": 0.0})
    assert decide(e.d, slot_cfg()) == "floor"
    e = Estimator({"l": 0.1, "r": 0.0})
    assert decide(e.d, slot_cfg()) == "floor"


def test_decide_forecast_only_under_ceiling():
    cfg = slot_cfg(lead_time_days=3, margin_days=1, order_ceiling=0.5)
    # 0.3 left at 0.1/day = 3 days <= 4: order
    assert decide({"l": 0.3, "r": 0.1}, cfg) == "forecast"
    # 0.45 at 0.1/day = 4.5 days > 4: wait
    assert decide({"l": 0.45, "r": 0.1}, cfg) is None
    # fast use but above the ceiling: never
    assert decide({"l": 0.55, "r": 0.5}, cfg) is None
    # no use measured: only the floor can trigger
    assert decide({"l": 0.2, "r": 0.0}, cfg) is None
    assert decide({}, cfg) is None


def test_decide_defaults_when_cfg_sparse():
    e = Estimator({"l": 0.09})
    assert decide(e.d, {"id": "x"}) == "floor"
    assert decide({"l": 0.3, "r": 0.1}, {"id": "x"}) == "forecast"


def test_forecast_orders_before_running_out():
    d = {}
    e = Estimator(d)
    cfg = slot_cfg(lead_time_days=3, margin_days=1)
    t = T0
    x = 0.9
    first = None
    while x > 0:
        e.update(x, t)
        if decide(e.d, cfg) and first is None:
            first = (t, x)
        x -= 0.1 / 24
        t += HOUR
    assert first is not None
    t_order, x_order = first
    # ordered with >= lead+margin (minus EMA lag) days of stock left, never above ceiling
    assert x_order <= 0.5
    assert (t - t_order) / DAY >= 3.5


def test_cold_start_night_does_not_seed_zero_rate():
    d = {}
    e = Estimator(d)
    t = feed(e, [0.3] * 9)  # a quiet night: 9 h without use
    assert e.rate == 0.0 and "k" not in d
    feed(e, [0.3 - 0.0075 * h for h in range(1, 7)], t0=t)  # morning use, 0.18/day pace
    # seeded within ~3 h of use (the EMA lag makes it conservative-low at first)
    assert d["k"] == 1 and 0.06 < e.rate < 0.25 and "l0" not in d
    assert decide(e.d, slot_cfg(lead_time_days=3, margin_days=1)) == "forecast"


def test_cold_start_slow_use_is_learned_too():
    d = {}
    e = Estimator(d)
    feed(e, [0.9 - 0.03 * h / 24 for h in range(48)])  # 0.03/day: no 1 h window shows it
    assert d.get("k", 0) >= 1 and e.rate == pytest.approx(0.03, rel=0.3)


def test_daily_use_prior_until_measured():
    cfg = slot_cfg(daily_use=0.1, lead_time_days=2, margin_days=1)
    assert decide({"l": 0.25}, cfg) == "forecast"  # 2.5 days by the prior
    assert decide({"l": 0.35}, cfg) is None
    # a measured rate wins over the prior
    assert decide({"l": 0.25, "r": 0.02, "k": 3}, cfg) is None
