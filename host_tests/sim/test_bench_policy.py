"""The policy benchmark's table and target verdicts (drsctl.bench_policy)."""

import json

import pytest
from drsctl import bench_policy


def row(stockout_days=0, orders=10, left=0.1, duplicates=0, cannot=False, requests=None):
    return {
        "stockout_days": stockout_days,
        "stockout_hours": stockout_days * 5,
        "orders": orders,
        "duplicates": duplicates,
        "stock_left_mean": left,
        "stock_left_max": left * 2,
        "requests": requests,
        "cannot_stock_reported": cannot,
    }


def trace(firmware, bound=None):
    return {
        "about": "",
        "lead_days": [1, 7],
        "firmware": firmware,
        "fixed_threshold_20": row(stockout_days=9),
        "textbook_reorder_point": row(orders=10),
        "zero_stockout_bound": bound or row(orders=10),
    }


def test_targets_met_and_missed_are_named():
    results = {
        "good": trace(row(requests=500)),
        "dry": trace(row(stockout_days=2)),
        "early": trace(row(left=0.3, orders=12)),
        "tight": trace(row(left=0.3, orders=12), bound=row(left=0.25, orders=12)),
        "twice": trace(row(duplicates=1)),
        "impossible": trace(row(stockout_days=99, cannot=True)),
    }
    lines = bench_policy.target_report(results)
    assert lines == [
        "0 stockout days: missed: our shortfall on dry (the bound meets it)",
        "mean stock left at the refill <= 20 %: missed: our shortfall on early (the bound"
        " meets it); infeasible on tight (the bound misses it too)",
        "orders <= textbook + 10 %: missed: our shortfall on early (the bound meets it);"
        " infeasible on tight (the bound misses it too)",
        "0 duplicates: missed: our shortfall on twice (the bound meets it)",
        "reported as cannot be kept stocked: impossible",
    ]
    table = bench_policy.markdown(results)
    assert "| good | firmware | 0 | 10 | 0 | 10% | 20% | 500 |" in table
    assert "| good | fixed 20 % | 9 |" in table


def test_all_targets_met():
    lines = bench_policy.target_report({"a": trace(row()), "b": trace(row(orders=11))})
    assert all("met on every trace" in line for line in lines[:4])
    assert lines[4] == "reported as cannot be kept stocked: none"


def test_update_rewrites_only_the_policy_section(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps({"speed": 3, "policy": {}}))
    before = "# Bench\n\nhand-edited line\n\n" + bench_policy.HEADING + "\n\nstale figures\n"
    after = "\n## Hand-measured notes\n\nkept\n\nMachine: x\n"
    (tmp_path / "RESULTS.md").write_text(before + after)
    results = {"a": trace(row())}
    bench_policy.update_committed(results, tmp_path)
    assert json.loads((tmp_path / "results.json").read_text()) == {"speed": 3, "policy": results}
    text = (tmp_path / "RESULTS.md").read_text()
    assert text.startswith("# Bench\n\nhand-edited line\n\n" + bench_policy.HEADING)
    assert "stale figures" not in text and "| a | zero-stockout bound | 0 |" in text
    assert text.endswith(after)


def test_update_refuses_files_without_a_policy_section(tmp_path):
    (tmp_path / "results.json").write_text("{}")
    (tmp_path / "RESULTS.md").write_text("# Bench\n\nMachine: x\n")
    with pytest.raises(ValueError, match="no policy section"):
        bench_policy.update_committed({}, tmp_path)
    assert (tmp_path / "results.json").read_text() == "{}"
    with pytest.raises(ValueError, match="cannot read"):
        bench_policy.update_committed({}, tmp_path / "missing")
