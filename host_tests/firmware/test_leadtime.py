"""Learning lead times: drsagent.leadtime records them, policy.lead_days plans with them."""

import json
from datetime import UTC, datetime

import pytest
from drsagent import leadtime
from drsagent.policy import lead_days
from drsagent.timefmt import iso

from host_tests.fakes import slot_cfg

HOUR = 3600
DAY = 86400
T0 = 1893456000


def deliver(d, lead_hours, t=T0):
    """One order placed at t whose refill is seen lead_hours later; returns that time."""
    leadtime.ordered(d, t)
    done = t + int(lead_hours * HOUR)
    leadtime.refill(d, done)
    return done


PRIOR = {"max_lead_time_days": 7.5}  # the default: 2.5 x lead_time_days (3)


def test_without_data_the_longest_plausible_delivery_is_planned():
    assert lead_days({}, PRIOR) == 7.5
    assert len({}.get("lh", [])) == 0


def test_the_default_prior_is_two_and_a_half_times_lead_time_days():
    assert slot_cfg()["max_lead_time_days"] == 7.5
    assert slot_cfg(lead_time_days=2)["max_lead_time_days"] == 5
    assert slot_cfg(max_lead_time_days=4)["max_lead_time_days"] == 4  # the maker's own


def test_short_deliveries_replace_the_prior_once_trusted():
    d = {}
    t = T0
    for _ in range(7):
        t = deliver(d, 24, t)
    assert lead_days(d, PRIOR) == 7.5  # seven orders: the prior still bounds it
    deliver(d, 24, t)
    assert lead_days(d, PRIOR) == 1


def test_the_spread_term_shrinks_as_deliveries_are_learned():
    d = {}
    t = T0
    seen = []
    for hours in (24, 168) * 8:
        t = deliver(d, hours, t) + DAY
        seen.append(lead_days(d, {"max_lead_time_days": 0}))
    assert seen[1] == 7 + 3 * 6 / 2  # max + 3 (max - min) / n
    assert seen[-1] == 7 + 3 * 6 / 16
    assert seen[1:] == sorted(seen[1:], reverse=True)


def test_a_growing_lead_time_raises_the_estimate_at_every_order():
    d = {}
    t = T0
    seen = []
    for took in (1, 2, 3, 4, 5, 6, 7, 8):
        t = deliver(d, took * 24, t) + DAY
        seen.append(lead_days(d, {"max_lead_time_days": 1}))
    assert seen == sorted(seen)
    assert seen[-1] >= 8  # never below the longest recent delivery


def test_the_estimate_is_a_high_one_not_the_mean():
    d = {}
    t = T0
    for hours in (24, 160, 48, 72, 30, 150, 40, 100):
        t = deliver(d, hours, t) + DAY
    assert lead_days(d, PRIOR) * 24 >= 160


def test_a_refill_before_the_expected_date_counts_the_expected_date():
    d = {}
    t = T0
    for _ in range(3):
        t = deliver(d, 48, t)
    leadtime.ordered(d, t)
    leadtime.status(d, iso(t + 9 * DAY) + ".000")  # getOrderInfo's form
    assert d["le"] == 9 * 24
    leadtime.refill(d, t + 2 * DAY)  # the household bought one elsewhere
    assert d["lh"][-1] == 9 * 24
    assert "le" not in d and "lp" not in d
    t = deliver(d, 30, t + 3 * DAY)  # without an expected date: what was seen
    assert d["lh"][-1] == 30


@pytest.mark.parametrize("text", [None, "", "soon", "2030-13-45T99:00:00Z", 1893456000])
def test_a_garbled_expected_date_is_ignored(text):
    d = {}
    leadtime.ordered(d, T0)
    leadtime.status(d, text)
    assert "le" not in d
    leadtime.status(d, iso(T0 - DAY))  # before the order: no delivery date
    assert "le" not in d


def test_expected_dates_parse_like_datetime():
    d = {}
    leadtime.ordered(d, T0)
    for days in (1, 2.5, 59, 89.9):
        eta = T0 + int(days * DAY)
        text = datetime.fromtimestamp(eta, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        leadtime.status(d, text)
        assert d["le"] * HOUR >= eta - T0 > (d["le"] - 1) * HOUR


def test_a_canceled_order_teaches_nothing():
    d = {}
    leadtime.ordered(d, T0)
    leadtime.canceled(d)
    leadtime.refill(d, T0 + 40 * DAY)  # the household bought one elsewhere
    assert len(d.get("lh", [])) == 0


def test_a_refill_without_an_order_teaches_nothing():
    d = {}
    leadtime.refill(d, T0)
    assert len(d.get("lh", [])) == 0


def test_an_adopted_order_keeps_the_first_attempt_time():
    d = {}
    leadtime.ordered(d, T0)
    leadtime.ordered(d, T0 + 6 * HOUR)  # ORDER_INPROGRESS after a reboot
    leadtime.refill(d, T0 + 3 * DAY)
    assert lead_days(d, {"max_lead_time_days": 1}) == 3


def test_only_recent_orders_are_kept():
    d = {}
    t = T0
    for _ in range(40):
        t = deliver(d, 30, t)
    assert 0 < len(d.get("lh", [])) <= 16
    assert len(json.dumps(d)) < 100  # compact on flash
