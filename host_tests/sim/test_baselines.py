"""The baseline policies and their world model (drsctl.sim.baselines)."""

import pytest
from drsctl.sim import baselines


def steady(days, daily):
    """`daily` of a container per day, spread evenly over the day's 24 hours."""
    return [daily / 24] * (24 * days)


def test_fixed_threshold_orders_at_20_percent_and_runs_dry_on_slow_delivery():
    use = steady(60, 0.05)
    quick = baselines.run(baselines.fixed_threshold(0.2), use, [48], 0.8, seed=1)
    assert quick.stockout_days == 0
    assert quick.orders >= 2
    assert all(0.05 <= left <= 0.12 for left in quick.stock_left)  # 20 % - 2 days - refill
    slow = baselines.run(baselines.fixed_threshold(0.2), use, [24 * 7], 0.8, seed=1)
    assert slow.stockout_days > 0
    assert slow.stock_left_mean == 0.0


def test_one_order_at_a_time():
    use = steady(30, 0.2)  # a container lasts 5 days, deliveries take 10
    outcome = baselines.run(baselines.fixed_threshold(0.2), use, [240], 0.8, seed=1)
    assert outcome.orders <= 30 * 24 // 240 + 1


def test_lead_times_are_used_per_order_in_turn():
    use = steady(60, 0.1)
    outcome = baselines.run(baselines.fixed_threshold(0.5), use, [24, 24 * 6], 0.8, seed=1)
    # the 6-day deliveries run dry (50 % lasts 5 days), the 1-day ones do not
    assert 0 < outcome.stockout_days
    lefts = outcome.stock_left
    assert lefts[0] > 0.3 and lefts[1] == 0.0 and lefts[2] > 0.3


def test_textbook_reorder_point_covers_its_nominal_lead_time():
    use = steady(90, 0.05)
    # 60 h delivery + 1-8 h until the household puts it in: inside the 3 days
    outcome = baselines.run(baselines.reorder_point(3.0), use, [60], 0.8, seed=1)
    assert outcome.stockout_days == 0
    # orders at 3 days' use (no variance): what is left is less than half a day's
    assert outcome.stock_left_mean == pytest.approx(0.01, abs=0.01)
    late = baselines.run(baselines.reorder_point(3.0), use, [24 * 6], 0.8, seed=1)
    assert late.stockout_days > 0


def test_textbook_safety_stock_grows_with_variability():
    calm = [0.05] * 28
    wild = [0.0, 0.1] * 14
    decide = baselines.reorder_point(3.0)
    assert not decide(0, 0.2, calm)
    assert decide(0, 0.2, wild)


def test_the_zero_stockout_bound_never_runs_dry_on_the_longest_delivery():
    use = [0.0] * 24 * 10 + steady(80, 0.05)  # a quiet start: the bound sees use coming
    for lead_hours in (24, 24 * 4, 24 * 7):
        outcome = baselines.run(
            baselines.zero_stockout_bound(use, 7), use, [lead_hours], 0.8, seed=1
        )
        assert outcome.stockout_days == 0
        assert outcome.orders >= 3
    slow = baselines.run(baselines.zero_stockout_bound(use, 7), use, [24 * 7], 0.8, seed=1)
    # it orders as late as the longest delivery allows: little is left when it is that one
    assert slow.stock_left_mean < 0.05
    quick = baselines.run(baselines.zero_stockout_bound(use, 7), use, [24], 0.8, seed=1)
    assert quick.stock_left_mean > 0.25  # 6 days of use left when it came in one
