"""The simulator's verdict on a run (tools/drsctl/sim/report.py)."""

from drsctl.sim.report import _count, _failure


def test_a_run_whose_network_calls_ran_out_of_memory_fails_naming_the_heap() -> None:
    reason = _failure([], [], 0, out_of_memory=7, heap="64k")
    assert reason is not None
    assert "out of memory 7 times" in reason and "heapsize=64k" in reason and "--heap" in reason


def test_a_clean_run_has_no_failure() -> None:
    assert _failure([], [], 0, out_of_memory=0, heap="64k") is None


def test_a_stuck_device_is_named_before_memory() -> None:
    reason = _failure(["config.json: slots[0].floor: ..."], [], 0, out_of_memory=3, heap=None)
    assert reason is not None and reason.startswith("the device was stuck: config.json")


def test_the_plot_title_counts_in_words() -> None:
    assert _count(1, "slot") == "1 slot"
    assert _count(2, "slot") == "2 slots"
    assert _count(0, "order") == "0 orders"
