"""Whether a slot can be kept stocked with one order at a time (drsagent.capacity)."""

from drsagent import capacity

from host_tests.fakes import T0, slot_cfg
from host_tests.firmware.learned_slots import learned


def test_a_container_shorter_than_the_lead_time_is_reported():
    d = learned(0.25, 6)  # lasts 4 days, deliveries take 6
    assert capacity.cannot_stock(d, slot_cfg()) == (4.0, 6.0)
    assert capacity.cannot_stock(learned(0.1, 6), slot_cfg()) is None


def test_cannot_stock_needs_real_data():
    assert capacity.cannot_stock({"uh": [2500] * 3}, slot_cfg()) is None
    assert capacity.cannot_stock({"uh": [2500] * 10}, slot_cfg()) is None  # no delivery seen


def test_it_is_told_once_and_once_more_when_it_is_over():
    events = []

    def emit(ev, **fields):
        events.append(dict(fields, ev=ev))

    d = learned(0.25, 6)
    assert capacity.check(emit, "ink", slot_cfg(), d, T0) is True
    assert capacity.check(emit, "ink", slot_cfg(), d, T0) is False  # already told
    assert d["cs"] == 1
    d["uh"] = [1000] * 28  # use slowed down: a container lasts 10 days now
    assert capacity.check(emit, "ink", slot_cfg(), d, T0) is True
    assert "cs" not in d
    assert [e["ev"] for e in events] == ["cannot_stock", "stock_ok"]
    assert events[0]["container_days"] == 4.0 and "bigger container" in events[0]["fix"]
