"""The request schedule (report time: drsagent.boot; poll times: drsagent.slot) and
DRS date parsing, on both runtimes."""

import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from drsagent import boot, slot, timefmt
from script_server import needs_micropython

DAY = 86400
HOUR = 3600
WINDOW = 4 * HOUR
SERIALS = ["PRN-000123", "SIM-0001", "", "wäsche-7", "A" * 64]


def test_report_offset_is_stable_per_serial():
    # Pinned: a new firmware version must not move a fleet's report times.
    assert [boot.report_offset(s) for s in SERIALS[:3]] == [3090, 4472, 1861]
    assert boot.report_offset("PRN-000123") == boot.report_offset("PRN-000123")


def test_report_offsets_spread_over_the_window():
    offsets = [boot.report_offset(f"PRN-{n:06d}") for n in range(10000)]
    assert min(offsets) >= 0 and max(offsets) < WINDOW
    # 16 quarter hours: none gets more than 1.2x or less than 0.8x its share
    per_quarter = Counter(o // 900 for o in offsets)
    assert len(per_quarter) == 16
    assert all(500 < n < 750 for n in per_quarter.values()), per_quarter
    # nearly every device has a second of its own (10 000 in 14 400 s)
    assert max(Counter(offsets).values()) <= 5


def test_report_time_adds_the_offset_to_the_configured_hour():
    config = {"device": {"serial": "PRN-000123"}, "report_hour_utc": 22}
    assert boot.report_time(config) == 22 * HOUR + 3090
    assert boot.report_time({"device": {"serial": "PRN-000123"}}) == 3 * HOUR + 3090


def test_one_report_per_day_at_the_report_time_even_across_midnight():
    base = 23 * HOUR + 3000  # 23:50: the window runs past midnight
    t0 = 1893456000
    assert slot.report_due(0, base) == 0  # never reported: due now
    due = t0 + base % DAY
    sent = due
    for _ in range(5):
        following = slot.report_due(sent, base)
        assert following - due == DAY
        due = following
        sent = due + 1800  # the pass that sends it may come a little later
    for late in (5 * HOUR, 11 * HOUR, 13 * HOUR):  # a retry or the first report after boot
        sent = t0 + base % DAY + late
        following = slot.report_due(sent, base)
        assert (following - base) % DAY == 0  # back on this device's report time
        assert DAY // 2 <= following - sent < DAY + DAY // 2


@pytest.mark.parametrize("seed", range(5))
def test_polls_wait_for_the_report_time_and_the_expected_delivery(seed):
    rng = random.Random(seed)
    base = rng.randrange(WINDOW) + 3 * HOUR
    for _ in range(200):
        t = 1893456000 + rng.randrange(30 * DAY)
        expected = t + rng.randrange(-DAY, 5 * DAY)
        at = slot.next_poll(t, base, expected)
        assert (at - base) % DAY == 0  # together with the daily report
        assert at >= t + HOUR and at >= expected
        assert at - max(t + HOUR, expected) < DAY  # the first report time that qualifies
        first = slot.next_poll(t, base)  # just placed: no expected date yet
        assert (first - base) % DAY == 0 and t + HOUR <= first < t + HOUR + DAY


def test_parse_round_trips_drs_dates():
    start = datetime(1970, 1, 1, tzinfo=UTC)
    rng = random.Random(3)
    for _ in range(2000):
        moment = start + timedelta(seconds=rng.randrange(4133980800))
        text = moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        assert timefmt.parse(text) == int(moment.timestamp())
        assert timefmt.parse(timefmt.iso(int(moment.timestamp()))) == int(moment.timestamp())


@pytest.mark.parametrize(
    "text", [None, "", "soon", "2030-13-01T00:00:00Z", "2030-01-01 00:00:00Z", 17, "2030-01"]
)
def test_parse_rejects_what_is_not_a_drs_date(text):
    assert timefmt.parse(text) is None


@pytest.mark.micropython
@needs_micropython
def test_schedule_on_micropython(mpy):
    serials = json.dumps(SERIALS)
    out = mpy(
        f"""
        import json
        from drsagent import boot, slot, timefmt
        serials = json.loads({serials!r})
        r = {{"offsets": [boot.report_offset(s) for s in serials]}}
        r["polls"] = [slot.next_poll(t, 13065, e) for t, e in
                      ((1893456000, None), (1893456000, 1893628800), (1893500000, 1893456000))]
        r["due"] = [slot.report_due(x, 13065) for x in (0, 1893469065, 1893480000)]
        r["parse"] = [timefmt.parse(s) for s in ("2030-01-03T00:00:00.000Z", "x", None)]
        print(json.dumps(r))
        """,
        compiled=True,
    )
    r = json.loads(out)
    assert r["offsets"] == [boot.report_offset(s) for s in SERIALS]
    assert r["polls"] == [
        slot.next_poll(1893456000, 13065),
        slot.next_poll(1893456000, 13065, 1893628800),
        slot.next_poll(1893500000, 13065, 1893456000),
    ]
    assert r["due"] == [slot.report_due(x, 13065) for x in (0, 1893469065, 1893480000)]
    assert r["parse"] == [1893628800, None, None]
