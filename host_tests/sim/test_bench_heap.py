"""`python -m drsctl.bench --heap-only`: the lowest heap alone, from a bisection."""

from typing import Any

from drsctl import bench

REFERENCE = {"crashes": 0, "duplicate_orders": 0, "stockout_days": 0, "orders": 3, "net_errors": 0}


def fake_run_sim(needed_k: int):
    """A run_sim that completes like the reference from needed_k KiB up."""

    def run(
        runtime: str,
        days: float,
        heap: str | None = None,
        slots: int = 2,
        binary: str | None = None,
    ) -> dict[str, Any]:
        if heap is None or int(heap.rstrip("k")) >= needed_k:
            return dict(REFERENCE)
        return {**REFERENCE, "crashes": 1}

    return run


def test_heap_only_prints_the_bisected_lowest_heap(monkeypatch, capsys) -> None:
    monkeypatch.setattr(bench, "run_sim", fake_run_sim(71))
    assert bench.main(["--heap-only", "--days", "1"]) == 0
    assert capsys.readouterr().out.strip() == "lowest heap: 72 KiB"


def test_heap_only_fails_clearly_when_no_heap_completes(monkeypatch, capsys) -> None:
    monkeypatch.setattr(bench, "run_sim", fake_run_sim(10_000))
    assert bench.main(["--heap-only", "--days", "1"]) == 1
    assert "does not complete" in capsys.readouterr().err
