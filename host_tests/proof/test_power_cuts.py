"""Power loss at every I/O point of an order cycle (short version; `make soak` runs
every point at every off-duration)."""

from __future__ import annotations

import pytest

from host_tests.proof.campaign import DURATIONS_S, enumerate_cuts


def _report(trials) -> str:
    return "\n".join(
        f"point {t.point} ({t.label}), off {t.off_s // 3600} h: {'; '.join(t.problems)}"
        for t in trials
        if t.problems
    )


def test_every_network_point_of_an_order_cycle(make_rig):
    """Each request's send and answer, each off for one of the durations in turn."""
    trials = enumerate_cuts(
        make_rig, labels=("send", "answer"), durations=DURATIONS_S, one_duration_each=True
    )
    assert len(trials) >= 8
    assert not _report(trials), _report(trials)


@pytest.mark.parametrize("scenario", ["cycle", "cancel"])
def test_flash_points_of_an_order_cycle(make_rig, scenario):
    """Torn writes, writes lost before the rename, lost renames (a sample of points,
    each off for one of the durations in turn)."""
    trials = enumerate_cuts(
        make_rig,
        scenario,
        labels=("create", "close", "rename"),
        durations=DURATIONS_S,
        stride=7 if scenario == "cycle" else 11,
        one_duration_each=True,
    )
    assert len(trials) >= 6
    assert not _report(trials), _report(trials)
