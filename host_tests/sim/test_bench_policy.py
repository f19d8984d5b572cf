"""The policy benchmark's table and target verdicts (drsctl.bench_policy)."""

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


def trace(firmware):
    return {
        "about": "",
        "lead_days": [1, 7],
        "firmware": firmware,
        "fixed_threshold_20": row(stockout_days=9),
        "textbook_reorder_point": row(orders=10),
    }


def test_targets_met_and_missed_are_named():
    results = {
        "good": trace(row(requests=500)),
        "dry": trace(row(stockout_days=2)),
        "early": trace(row(left=0.3, orders=12)),
        "twice": trace(row(duplicates=1)),
        "impossible": trace(row(stockout_days=99, cannot=True)),
    }
    lines = bench_policy.target_report(results)
    assert lines == [
        "0 stockout days: missed on dry",
        "mean stock left at the refill <= 20 %: missed on early",
        "orders <= textbook + 10 %: missed on early",
        "0 duplicates: missed on twice",
        "reported as cannot be kept stocked: impossible",
    ]
    table = bench_policy.markdown(results)
    assert "| good | firmware | 0 | 10 | 0 | 10% | 20% | 500 |" in table
    assert "| good | fixed 20 % | 9 |" in table


def test_all_targets_met():
    lines = bench_policy.target_report({"a": trace(row()), "b": trace(row(orders=11))})
    assert all("met on every trace" in line for line in lines[:4])
    assert lines[4] == "reported as cannot be kept stocked: none"
