"""The reorder decision (drsagent.reorder) on learned histories."""

import contextlib
import io
import json

from drsagent import leadtime, reorder

HOUR = 3600
DAY = 86400
T0 = 1893456000
LOOP_DAYS = 1 / 24
DEFAULTS = {"lead_time_days": 3, "margin_days": 1, "floor": 0.1, "order_ceiling": 0.5}


def learned(daily_use, lead_days, days=28):
    """A slot dict that has seen `days` days of use and three deliveries."""
    d = {"uh": [int(daily_use * 10000)] * days}
    t = T0
    for _ in range(3):
        leadtime.placed(d, t)
        t += int(lead_days * DAY)
        leadtime.refilled(d, t)
    return d


def order_point(d, config=DEFAULTS, fallback=0.0):
    """The highest level (in 0.5 % steps) at which the slot orders."""
    for step in range(200, 0, -1):
        if reorder.decide(d, config, step / 200, fallback, LOOP_DAYS):
            return step / 200
    return 0.0


def test_a_longer_learned_lead_time_orders_earlier():
    quick = order_point(learned(0.05, 2))
    slow = order_point(learned(0.05, 6))
    assert quick < slow
    assert slow >= 0.05 * 6  # covers the slow delivery


def test_the_learned_lead_time_is_used_not_the_configured_one():
    d = learned(0.05, 7)
    assert order_point(d) >= 0.05 * 7
    assert order_point(d) > 0.05 * (3 + 1) + 0.02  # beyond lead_time_days + margin_days


def test_the_ceiling_never_blocks_an_order_the_data_asks_for():
    d = learned(0.1, 7)  # a container lasts 10 days, deliveries take 7
    assert order_point(d) > DEFAULTS["order_ceiling"]
    assert reorder.decide(d, DEFAULTS, 0.72, 0.0, LOOP_DAYS) == "forecast"


def test_the_ceiling_still_guards_a_first_wild_estimate():
    d = {"uh": [1500, 1500]}  # two days of history say 15 %/day
    assert reorder.decide(d, DEFAULTS, 0.7, 0.0, LOOP_DAYS) is None
    assert reorder.decide(d, DEFAULTS, 0.45, 0.0, LOOP_DAYS) == "forecast"


def test_floor_orders_whatever_the_forecast():
    assert reorder.decide({}, DEFAULTS, 0.08, 0.0, LOOP_DAYS) == "floor"
    assert reorder.decide({}, DEFAULTS, 0.3, 0.0, LOOP_DAYS) is None  # nothing known


def test_before_any_whole_day_the_fallback_rate_decides():
    d = {}
    # no lead time seen: twice lead_time_days plus margin_days, 7 days
    assert reorder.decide(d, DEFAULTS, 0.35, 0.05, LOOP_DAYS) == "forecast"
    assert reorder.decide(d, DEFAULTS, 0.35, 0.01, LOOP_DAYS) is None
    config = dict(DEFAULTS, daily_use=0.05)  # the maker's first guess
    assert reorder.decide(d, config, 0.3, 0.0, LOOP_DAYS) == "forecast"


def test_no_order_without_use():
    d = learned(0.0, 3)
    assert reorder.decide(d, DEFAULTS, 0.2, 0.0, LOOP_DAYS) is None


def test_a_container_shorter_than_the_lead_time_is_reported():
    d = learned(0.25, 6)  # lasts 4 days, deliveries take 6
    assert reorder.cannot_stock(d, DEFAULTS) == (4.0, 6.0)
    assert order_point(d) == 1.0  # it orders as soon as the refill is in: the best it can do
    assert reorder.cannot_stock(learned(0.1, 6), DEFAULTS) is None


def test_cannot_stock_needs_real_data():
    assert reorder.cannot_stock({"uh": [2500] * 3}, DEFAULTS) is None
    assert reorder.cannot_stock({"uh": [2500] * 10}, DEFAULTS) is None  # no delivery seen


LEARNING_RUN = """
import json
from drsagent import leadtime, reorder, usage

d = {}
level = 1.0
t = 1893456000
decisions = []
for hour in range(24 * 60):
    t += 3600
    level -= 0.004 if hour % 24 >= 7 else 0.0
    if hour % 240 == 200:
        leadtime.placed(d, t)
    if hour % 240 == 230:
        usage.refilled(d, level, 1.0)
        leadtime.refilled(d, t)
        level = 1.0
    usage.observe(d, round(level, 4), t)
    decisions.append(reorder.decide(d, {}, round(level, 4), 0.0, 1 / 24) or "")
print(json.dumps([d, reorder.cannot_stock(d, {}), decisions.count("forecast")]))
"""


def test_the_learners_run_the_same_on_micropython(mpy):
    on_micropython = json.loads(mpy(LEARNING_RUN, compiled=True))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(LEARNING_RUN, {})
    assert on_micropython == json.loads(out.getvalue())
    assert on_micropython[2] > 0  # it did decide to order
