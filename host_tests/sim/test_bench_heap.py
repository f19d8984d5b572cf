"""`python -m drsctl.bench --heap-only`: the lowest heap alone, from a bisection."""

from drsctl import bench

from host_tests.fakes import fake_run_sim

REFERENCE = {"crashes": 0, "duplicate_orders": 0, "stockout_days": 0, "orders": 3, "net_errors": 0}


def test_heap_only_prints_the_bisected_lowest_heap(monkeypatch, capsys) -> None:
    monkeypatch.setattr(bench, "run_sim", fake_run_sim(lambda binary: 71, REFERENCE))
    assert bench.main(["--heap-only", "--days", "1"]) == 0
    assert capsys.readouterr().out.strip() == "lowest heap: 72 KiB"


def test_heap_only_fails_clearly_when_no_heap_completes(monkeypatch, capsys) -> None:
    monkeypatch.setattr(bench, "run_sim", fake_run_sim(lambda binary: 10_000, REFERENCE))
    assert bench.main(["--heap-only", "--days", "1"]) == 1
    assert "does not complete" in capsys.readouterr().err
