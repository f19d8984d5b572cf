"""Trace files, lead-time files and the seeded benchmark traces (drsctl.sim.traces)."""

import random

import pytest
from drsctl.sim import traces
from drsctl.sim.traces import TraceError, TraceWorld

START = 1893456000


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_one_slot_csv_absent_hours_are_no_use(tmp_path):
    path = write(tmp_path, "t.csv", "hour,used_fraction\n0,0.01\n5,0.2\n")
    assert traces.load_csv(path) == {"slot-1": [0.01, 0, 0, 0, 0, 0.2]}


def test_several_slots_csv(tmp_path):
    path = write(tmp_path, "t.csv", "hour,slot,used_fraction\n1,a,0.1\n0,b,0.3\n\n")
    assert traces.load_csv(path) == {"a": [0.0, 0.1], "b": [0.3, 0.0]}


def test_csv_round_trip(tmp_path):
    use = {"a": [0.0, 0.125, 0.0], "b": [0.5, 0.0, 0.25]}
    traces.write_csv(tmp_path / "t.csv", use)
    assert traces.load_csv(tmp_path / "t.csv") == use


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "header must be"),
        ("time,used\n0,1\n", "header must be"),
        ("hour,used_fraction\n", "no rows"),
        ("hour,used_fraction\n-1,0.1\n", ":2: hour must be an integer >= 0"),
        ("hour,used_fraction\n0,lots\n", ":2: used_fraction must be a number in [0, 1]"),
        ("hour,used_fraction\n0,nan\n", "used_fraction must be"),
        ("hour,used_fraction\n0,1.5\n", "used_fraction must be"),
        ("hour,used_fraction\n0,0.1\n0,0.1\n", ":3: hour 0 of slot 'slot-1' given twice"),
        ("hour,used_fraction\n0,0.1,7\n", ":2: expected 2 columns, got 3"),
        ("hour,slot,used_fraction\n0,,0.1\n", "empty slot id"),
    ],
)
def test_bad_csv_says_where_and_why(tmp_path, text, message):
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(TraceError) as err:
        traces.load_csv(path)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_missing_csv(tmp_path):
    with pytest.raises(TraceError, match="cannot read"):
        traces.load_csv(tmp_path / "none.csv")


def test_lead_times_for_all_slots_or_per_slot(tmp_path):
    every = write(tmp_path, "a.json", '{"lead_time_hours": [24, 36.5]}')
    assert traces.load_lead_times(every, ["a", "b"]) == [24, 36.5]
    nested = write(tmp_path, "b.json", '{"lead_time_hours": {"a": [10], "b": [20]}}')
    assert traces.load_lead_times(nested, ["a", "b"]) == {"a": [10], "b": [20]}
    bare = write(tmp_path, "c.json", '{"a": [10], "b": [20]}')
    assert traces.load_lead_times(bare, ["a", "b"]) == {"a": [10], "b": [20]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not JSON"),
        ("[1, 2]", "lead_time_hours"),
        ('{"lead_time_hours": []}', "non-empty list"),
        ('{"lead_time_hours": [24, -1]}', "lead_time_hours[1]: expected a number of hours >= 1"),
        ('{"lead_time_hours": [0.5]}', "lead_time_hours[0]: expected a number of hours >= 1"),
        ('{"lead_time_hours": [24, "2d"]}', "lead_time_hours[1]"),
        ('{"lead_time_hours": [true]}', "lead_time_hours[0]"),
        ('{"a": [1], "x": [2]}', "slot 'x' is not simulated"),
        ("{}", "expected a list, or one list per slot"),
        ('{"a": [1]}', "no lead times for slot 'b'"),
    ],
)
def test_bad_lead_times_say_why(tmp_path, text, message):
    path = write(tmp_path, "bad.json", text)
    with pytest.raises(TraceError) as err:
        traces.load_lead_times(path, ["a", "b"])
    assert message in str(err.value)


@pytest.mark.parametrize(("spec", "expected"), [("fixed:2", [48.0]), ("fixed:0.5", [12.0])])
def test_fixed_lead_distribution(spec, expected):
    assert traces.lead_distribution(spec, random.Random(1)) == expected


def test_uniform_lead_distribution_stays_in_range():
    leads = traces.lead_distribution("uniform:1:7", random.Random(1))
    assert 24 <= min(leads) < max(leads) <= 168


@pytest.mark.parametrize(
    "spec", ["fixed", "fixed:-1", "fixed:0.01", "uniform:7:1", "uniform:1", "normal:3:1"]
)
def test_bad_lead_distribution(spec):
    with pytest.raises(TraceError, match="fixed:DAYS or uniform:LO:HI"):
        traces.lead_distribution(spec, random.Random(1))


def test_generated_traces_are_seeded_and_a_year_long():
    for spec in traces.BENCHMARK_TRACES:
        one = traces.generate(spec, 7)
        assert one.hours == 365 * 24
        assert one == traces.generate(spec, 7)
        assert one.use != traces.generate(spec, 8).use
        leads = one.lead_time_hours["slot-1"]
        assert spec.lead_days[0] * 24 <= min(leads) <= max(leads) <= spec.lead_days[1] * 24


def test_generated_traces_have_their_character():
    def daily(name):
        spec = next(s for s in traces.BENCHMARK_TRACES if s.name == name)
        return traces.daily_totals(traces.generate(spec, 1).use["slot-1"])

    weekly = daily("weekly")
    assert sum(weekly[5:7]) < 0.2 * sum(weekly[0:5]) / 5 * 2
    absences = daily("absences")
    assert sum(1 for d in absences if d == 0) >= 21
    doses = daily("rare-doses")
    assert max(doses) > 8 * sorted(doses)[len(doses) // 2]
    growth = daily("growth-step")
    assert sum(growth[-30:]) > 2 * sum(growth[:30])


def test_trace_world_uses_the_trace_and_counts_unmet_use():
    world = TraceWorld("a", [0.3, 0.0, 0.5, 0.4, 0.1], START)
    world.level = 1.0
    world.consume(START, START + 3 * 3600, random.Random(1), START)
    assert world.level == pytest.approx(0.2)
    world.consume(START + 3 * 3600, START + 5 * 3600, random.Random(1), START)
    assert world.level == 0.0
    assert world.stockout_hours == {3, 4}
    assert world.stockout_days == {0}
    world.refill_at = START + 5 * 3600
    assert world.maybe_refill(START + 5 * 3600)
    assert world.stock_left == [0.0]
    assert world.level == 1.0


def test_trace_world_sensor_glitches():
    world = TraceWorld("a", [0.0] * 24, START, glitch_rate=0.5)
    world.level = 0.5
    rng = random.Random(3)
    readings = [world.raw(rng) for _ in range(200)]
    good = [r for r in readings if r == r and r is not None and abs(r - 428500) < 10000]
    assert 50 < len(good) < 150
