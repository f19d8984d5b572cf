"""The order policy (drsagent.policy) on learned histories and on a fresh slot."""

import contextlib
import io
import json

from drsagent import config as config_schema
from drsagent import estimator
from drsagent.policy import decide, lead_days

from host_tests.fakes import DAY, HOUR, T0, config, slot_cfg
from host_tests.firmware.learned_slots import learned


def at(d, level):
    return dict(d, l=level)


def order_point(d, settings=None):
    """The highest level (in 0.5 % steps) at which the slot orders."""
    settings = settings or slot_cfg()
    for step in range(200, 0, -1):
        if decide(at(d, step / 200), settings):
            return step / 200
    return 0.0


def test_floor_orders_whatever_the_forecast():
    assert decide({"l": 0.08}, slot_cfg()) == "floor"
    assert decide({"l": 0.1}, slot_cfg()) == "floor"
    assert decide({"l": 0.11}, slot_cfg()) is None  # nothing known about use
    assert decide({}, slot_cfg()) is None


def test_a_longer_learned_lead_time_orders_earlier():
    quick = order_point(learned(0.05, 2))
    slow = order_point(learned(0.05, 6))
    assert quick < slow
    assert slow >= 0.05 * 6  # covers the slow delivery


def test_the_learned_lead_time_is_used_not_the_configured_one():
    d = learned(0.05, 7)
    assert order_point(d) >= 0.05 * 7
    assert order_point(d) > 0.05 * (3 + 1) + 0.02  # beyond lead_time_days + margin_days
    assert order_point(learned(0.05, 1)) < 0.05 * 3  # and shorter ones too


def test_the_longest_plausible_delivery_bounds_the_plan_until_one_took_longer():
    settings = slot_cfg()  # max_lead_time_days: 2.5 x lead_time_days, 7.5 days
    assert lead_days({}, settings) == 7.5
    # 1, 7 and 3 days: widely spread, but all within the longest plausible delivery
    assert lead_days({"lh": [24, 168, 72]}, settings) == 7.5
    # eight on record, 1 to 7 days: max + spread (9.25 days) is not planned past the prior
    assert lead_days({"lh": [24, 48, 72, 96, 120, 144, 168, 160]}, settings) == 7.5
    # eight quick ones: the deliveries decide, well below the prior
    assert lead_days({"lh": [48] * 7 + [72]}, settings) == (72 + 24 * 3 / 8) / 24
    # one took 8 days: the prior was wrong, the deliveries and their spread decide
    assert lead_days({"lh": [24, 192]}, settings) == (192 + 168 * 3 / 2) / 24
    assert lead_days({"lh": [48] * 7 + [192]}, settings) == (192 + 144 * 3 / 8) / 24


def test_the_ceiling_never_blocks_an_order_the_data_asks_for():
    d = learned(0.1, 7)  # a container lasts 10 days, deliveries take 7
    assert order_point(d) > slot_cfg()["order_ceiling"]
    assert decide(at(d, 0.72), slot_cfg()) == "forecast"


def test_the_ceiling_still_guards_a_first_wild_estimate():
    # a short-term rate (a few hours) of 15 %/day, no whole day yet
    assert decide({"l": 0.7, "r": 0.15}, slot_cfg()) is None
    assert decide({"l": 0.45, "r": 0.15}, slot_cfg()) == "forecast"
    for history in ([1500, 100], [100, 1500, 900]):  # a dose among ordinary days
        d = {"uh": history}
        assert decide(at(d, 0.7), slot_cfg()) is None, history
        assert decide(at(d, 0.45), slot_cfg()) == "forecast", history


def test_a_fall_over_whole_days_passes_the_ceiling():
    # every whole day so far used 9-15 %: the 8.5 days planned (no delivery seen yet)
    # need at least 0.09 x 8.5 + 0.02 = 0.785
    d = {"uh": [1500, 900]}
    assert decide(at(d, 0.78), slot_cfg()) == "forecast"
    assert decide(at(d, 0.8), slot_cfg()) is None  # more than even the slowest day needs
    assert decide(at({"uh": [1200]}, 0.7), slot_cfg()) == "forecast"  # the first day


def test_before_any_whole_day_the_short_term_rate_or_the_prior_decides():
    # no delivery seen: max_lead_time_days (2.5 x lead_time_days) plus margin_days, 8.5 days
    assert decide({"l": 0.35, "r": 0.05}, slot_cfg()) == "forecast"
    assert decide({"l": 0.35, "r": 0.01}, slot_cfg()) is None
    assert decide({"l": 0.3}, slot_cfg(daily_use=0.05)) == "forecast"  # the maker's guess
    assert decide({"l": 0.3, "r": 0.01}, slot_cfg(daily_use=0.05)) is None  # measured wins


def test_no_order_without_use():
    assert decide(at(learned(0.0, 3), 0.2), slot_cfg()) is None


def test_a_container_shorter_than_the_lead_time_is_ordered_at_once():
    d = learned(0.25, 6)  # lasts 4 days, deliveries take 6
    assert order_point(d) == 1.0  # as soon as the refill is in: the best it can do


def test_a_fresh_slot_orders_before_running_out():
    d = {}
    settings = slot_cfg()
    t = T0
    x = 0.9
    first = None
    while x > 0:
        estimator.update(d, settings, x, t)
        if decide(d, settings) and first is None:
            first = (t, x)
        x -= 0.1 / 24
        t += HOUR
    assert first is not None
    t_order, x_order = first
    # the forecast (max_lead_time_days + margin_days: 8.5 days) asks for it above the
    # ceiling; a history of a few days is not settled, but a whole day of that fall
    # proves the use: it orders then, not once the slot is half empty
    assert x_order > settings["order_ceiling"] + 0.2
    assert (t_order - T0) / DAY < 2  # on the day after the first whole one
    assert (t - t_order) / DAY >= 7  # about the slowest delivery the prior allows


def test_a_slow_slot_waits_for_the_settled_history_above_the_ceiling():
    d = {"uh": [300, 300, 300]}  # 3 %/day: 8.5 days of it need 0.275
    assert decide(at(d, 0.55), slot_cfg()) is None
    assert decide(at(d, 0.27), slot_cfg()) == "forecast"


def test_decide_with_the_schema_defaults():
    # floor 0.1, order_ceiling 0.5, lead_time_days 3, margin_days 1: from config.py only
    sparse = {"id": "x", "sensor": {"driver": "sim", "empty": 0, "full": 1}}
    settings = config_schema.validate_config(config(sparse))["slots"][0]
    assert decide({"l": 0.09}, settings) == "floor"
    assert decide({"l": 0.3, "r": 0.05}, settings) == "forecast"
    assert decide({"l": 0.45, "r": 0.05}, settings) is None


LEARNING_RUN = """
import json
from drsagent import capacity, estimator, leadtime, policy

settings = {"lead_time_days": 3, "margin_days": 1, "floor": 0.1, "order_ceiling": 0.5,
            "daily_use": 0, "rearm": 0.6, "max_lead_time_days": 7.5}
d = {}
level = 1.0
t = 1893456000
decisions = []
for hour in range(24 * 60):
    t += 3600
    level -= 0.004 if hour % 24 >= 7 else 0.0
    if hour % 240 == 200:
        leadtime.ordered(d, t)
    if hour % 240 == 230:
        leadtime.refill(d, t)
        level = 1.0
    estimator.update(d, settings, round(level, 4), t, hour % 240 > 200)
    decisions.append(policy.decide(d, settings) or "")
events = []
capacity.report(lambda ev, **f: events.append(ev), "s", d, t)
print(json.dumps([d, events, decisions.count("forecast")]))
"""


def test_the_learning_runs_the_same_on_micropython(mpy):
    on_micropython = json.loads(mpy(LEARNING_RUN, compiled=True))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(LEARNING_RUN, {})
    on_cpython = json.loads(out.getvalue())
    learned = ("uh", "lh", "ud")  # the integer parts (float EMAs may differ by 1e-5)
    assert [on_micropython[0][k] for k in learned] == [on_cpython[0][k] for k in learned]
    assert on_micropython[1:] == on_cpython[1:]
    assert on_micropython[2] > 0  # it did decide to order
    assert len(on_micropython[0]["lh"]) == 6  # and learned from every delivery
