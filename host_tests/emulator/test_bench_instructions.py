"""The instruction-count mode of ``drsctl.bench_emulator``: its arithmetic and its rows.

Valgrind itself is not run here (``make bench`` does): each server run's total is made
up from the requests it was sent, so the test checks which requests each run gets and
how the runs' totals become instructions per request and ratios.
"""

from pathlib import Path

import pytest
from drsctl import bench, bench_emulator

# Made-up instructions per request by route and server, and a start-up cost per run.
_EMULATOR = {"replenish_inprogress": 1_000_000, "getOrderInfo": 900_000,
             "deviceStatus": 800_000, "getOrders_page100": 20_000_000}  # fmt: skip
_BARE = {"replenish_inprogress": 500_000, "getOrderInfo": 450_000, "deviceStatus": 480_000,
         "getOrders_page100": 700_000}  # fmt: skip
_START = 123_456_789


def test_instructions_per_request_are_the_difference_of_two_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[tuple[str, list[int]]] = []

    def fake_total(
        cmd: list[str], port: int, out: Path, plan: list[tuple[bytes, int]], connections: int
    ) -> int:
        bare = "--serve-bare" in cmd
        names = list(bench_emulator.INSTRUCTION_COUNTS)
        runs.append(("bare" if bare else "emulator", [count for _, count in plan]))
        table = _BARE if bare else _EMULATOR
        if not bare:  # the emulator's requests are the routes', each to its own path
            assert [r.split(b" ")[1].split(b"/")[1] for r, _ in plan] == [
                b"replenish",
                b"getOrderInfo",
                b"deviceStatus",
                b"orders",
            ]
        counts = [count for _, count in plan]
        return _START + sum(table[name] * n for name, n in zip(names, counts, strict=True))

    monkeypatch.setattr(bench_emulator, "_cachegrind_total", fake_total)
    results = bench_emulator.instructions(tmp_path)

    lows = [low for low, _ in bench_emulator.INSTRUCTION_COUNTS.values()]
    assert runs[0] == ("emulator", lows)
    assert len(runs) == 10  # per server: every route low, then each route high once
    for name, figures in results.items():
        assert figures["instructions"] == _EMULATOR[name]
        assert figures["bare_instructions"] == _BARE[name]
        assert figures["ratio_to_bare"] == round(_BARE[name] / _EMULATOR[name], 3)
    rows = bench.instructions_markdown(results)
    assert rows[0].endswith("| 1000k vs 500k: 0.5x | >= 0.5x |")
    assert rows[3].endswith("| 20000k vs 700k: 0.035x | >= 0.25x |")
    assert bench.instructions_markdown(None)[0].count("not measured") == 1
