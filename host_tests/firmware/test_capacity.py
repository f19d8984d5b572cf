"""Whether a slot can be kept stocked with one order at a time (drsagent.capacity)."""

from drsagent import capacity

from host_tests.fakes import T0
from host_tests.firmware.learned_slots import learned


class Events(list):
    def __call__(self, ev, **fields):
        self.append(dict(fields, ev=ev))


def test_a_container_shorter_than_the_lead_time_is_reported_once():
    events = Events()
    d = learned(0.25, 6)  # lasts 4 days, deliveries take 6
    assert capacity.report(events, "ink", d, T0) is True
    assert capacity.report(events, "ink", d, T0) is False  # already told
    assert d["cs"] == 1
    assert [e["ev"] for e in events] == ["cannot_stock"]
    assert (events[0]["container_days"], events[0]["lead_days"]) == (4.0, 6.0)
    assert "bigger container" in events[0]["fix"]
    d["uh"] = [1000] * 28  # use slowed down: a container lasts 10 days now
    assert capacity.report(events, "ink", d, T0) is True
    assert "cs" not in d and len(events) == 1


def test_a_container_that_outlasts_its_deliveries_is_fine():
    events = Events()
    assert capacity.report(events, "ink", learned(0.1, 6), T0) is False
    assert events == []


def test_it_judges_from_the_slowest_delivery_on_record():
    events = Events()
    d = learned(0.2, 3, deliveries=1)  # lasts 5 days; one delivery, 3 days
    assert capacity.report(events, "ink", d, T0) is False  # the prior does not count
    d["lh"].append(7 * 24)  # then one took a week
    assert capacity.report(events, "ink", d, T0) is True
    assert (events[0]["container_days"], events[0]["lead_days"]) == (5.0, 7.0)


def test_it_needs_real_data():
    events = Events()
    assert capacity.report(events, "ink", {"uh": [2500] * 3}, T0) is False
    assert capacity.report(events, "ink", {"uh": [2500] * 10}, T0) is False
    assert events == []  # a week of use, but no delivery seen yet
