import json
import math

import pytest
from drsagent import reading
from drsagent.boot import restore_filter
from drsagent.reading import feed, new_filter

from host_tests.fakes import slot_cfg


class ReadingFilter:
    """Test view of the filter functions: a sensor config and the filter list."""

    def __init__(self, empty, full, level=None, **opts):
        self.c = slot_cfg(sensor=dict(opts, driver="sim", empty=empty, full=full))
        self.f = new_filter(level)

    def feed(self, raw):
        return feed(self.f, self.c, raw)

    def first(self, raw):
        """A fresh filter's first level: a first reading needs one more to agree."""
        assert self.feed(raw) is None and self.reason == "spike"
        return self.feed(raw)

    # the filter list's fields, as reading.py names them
    level = property(lambda self: self.f[0])
    fault = property(lambda self: reading.fault(self.f))
    reason = property(lambda self: self.f[2])
    rejects = property(lambda self: self.f[3])


def filt(**kw):
    return ReadingFilter(0, 1000, **kw)


def test_calibration_both_directions():
    assert ReadingFilter(0, 1000).first(250) == pytest.approx(0.25)
    # a distance sensor reads less when fuller: empty > full
    assert ReadingFilter(1000, 0).first(250) == pytest.approx(0.75)
    assert ReadingFilter(12000, 845000).first(12000) == 0
    assert ReadingFilter(12000, 845000).first(845000) == 1


def test_a_first_reading_needs_one_more_to_agree():
    """Nothing to compare a fresh device's first reading with: alone, a glitch at
    empty would order. It is held until the next reading agrees (within spike / 2)."""
    f = filt()
    assert f.feed(0) is None and f.reason == "spike"  # a glitch at empty ...
    assert f.feed(900) is None  # ... the truth disagrees: held again
    assert f.feed(910) == pytest.approx(0.91) and f.level == pytest.approx(0.91)
    assert f.rejects == 0 and f.fault is None


@pytest.mark.parametrize(
    "raw,reason",
    [
        (None, "none"),
        (math.nan, "nan"),
        (math.inf, "nan"),
        (-math.inf, "nan"),
        ("nan", "type"),
        ("500", "type"),
        (True, "type"),
        ([500], "type"),
        (1100, "range"),  # fraction 1.1 > 1.05
        (-60, "range"),  # fraction -0.06 < -0.05
    ],
)
def test_garbage_rejected(raw, reason):
    f = filt()
    assert f.first(500) == 0.5
    assert f.feed(raw) is None
    assert f.reason == reason
    assert f.level == 0.5  # the accepted level is untouched
    assert f.fault is None  # one rejection is not a fault yet


def test_slightly_out_of_range_is_clamped():
    f = filt()
    assert f.first(1040) == 1.0
    assert f.feed(1000) == 1.0
    f2 = filt()
    assert f2.first(-40) == 0.0


def test_fault_after_consecutive_rejections_and_recovery():
    f = filt(fault_after=3)
    assert f.first(400) == 0.4
    f.feed(None)
    f.feed(math.nan)
    assert f.fault is None
    f.feed(None)
    assert f.fault == "none"
    assert f.feed(401) == pytest.approx(0.401)
    assert f.fault is None and f.rejects == 0


def test_stuck_sensor():
    f = filt(stuck_readings=5)
    out = [f.feed(700) for _ in range(7)]
    assert out[:4] == [None] + [0.7] * 3  # the first held until the second agrees
    assert out[4:] == [None, None, None]
    assert f.reason == "stuck"
    assert f.fault == "stuck"  # 3 rejections in a row
    assert f.feed(699) == pytest.approx(0.699)  # moves again: fine
    assert f.fault is None


def test_an_empty_container_reading_a_constant_value_is_not_stuck():
    """At or under the slot's floor a constant reading is an empty container, not a
    stuck sensor: it must stay accepted so the slot can order."""
    f = filt(stuck_readings=5)
    floor = f.c["floor"]
    raw = int(floor * 1000)
    assert f.first(raw) == pytest.approx(floor)
    assert all(f.feed(raw) == pytest.approx(floor) for _ in range(50))
    assert f.fault is None
    assert all(f.feed(0) == 0 for _ in range(50))  # fully empty: also not stuck


def test_stuck_detection_disabled_with_zero():
    f = filt(stuck_readings=0)
    assert f.first(700) == 0.7
    assert all(f.feed(700) == 0.7 for _ in range(200))


def test_one_off_spike_is_not_accepted():
    f = filt()
    assert f.first(300) == 0.3
    assert f.feed(950) is None  # glitch
    assert f.reason == "spike"
    assert f.feed(301) == pytest.approx(0.301)  # back to normal: glitch forgotten
    assert f.level == pytest.approx(0.301)
    assert f.feed(960) is None  # a new glitch starts over, no stale confirmation
    assert f.feed(299) == pytest.approx(0.299)


def test_refill_accepted_after_two_confirming_readings():
    f = filt()
    assert f.first(100) == 0.1
    assert f.feed(950) is None
    assert f.feed(960) is None
    assert f.feed(955) == pytest.approx(0.955)
    assert f.level == pytest.approx(0.955)
    assert f.fault is None


def test_inconsistent_jumps_never_confirm():
    f = filt(fault_after=10)
    f.first(100)
    for raw in (950, 500, 950, 500, 950):
        assert f.feed(raw) is None
    assert f.level == 0.1


def test_filter_seeded_level_holds_a_glitch_after_reboot():
    f = ReadingFilter(0, 1000, level=0.2)
    assert f.feed(900) is None
    assert f.feed(210) == pytest.approx(0.21)


def test_sensor_config_options():
    f = ReadingFilter(0, 1000, stuck_readings=7, fault_after=4)
    assert [f.feed(500) for _ in range(7)][-2:] == [0.5, None]  # the 7th is stuck
    assert [f.feed(500) for _ in range(3)] == [None] * 3 and f.fault == "stuck"
    f = ReadingFilter(0, 1000, spike=0.5)
    assert f.first(100) == 0.1 and f.feed(550) == 0.55  # a jump below the spike size
    f = ReadingFilter(0, 1000)  # defaults: stuck after 48, spike 0.3, fault after 3
    assert f.first(700) == 0.7
    assert all(f.feed(700) == 0.7 for _ in range(45)) and f.feed(700) is None  # the 48th
    assert f.feed(300) is None and f.reason == "spike"


def test_a_deep_sleep_filter_is_restored_from_state_only_when_sound():
    """Deep sleep keeps the filter in state.json (each wake is a boot): a sound one is
    taken as it is, a damaged one is replaced by a new filter at the saved level."""
    kept = filt()
    assert kept.feed(500) is None  # held: waits for the next wake
    saved = json.loads(json.dumps(kept.f))
    assert restore_filter(saved, 0.4) is saved
    assert feed(saved, kept.c, 505) == pytest.approx(0.505)
    fresh = new_filter(0.4)
    text_count = saved[:3] + ["1"] + saved[4:]
    nan = [math.nan] + saved[1:]
    for damaged in (None, "x", [], saved[:-1], [True] + saved[1:], text_count, nan):
        assert restore_filter(damaged, 0.4) == fresh, damaged
    assert restore_filter([0.5, 7] + saved[2:], 0.4) == fresh  # a fault that is not text
