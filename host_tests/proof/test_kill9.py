"""kill -9 of the real MicroPython firmware at seeded moments (short version; `make
soak` runs many more seeds)."""

from __future__ import annotations

import pytest

from host_tests.proof.kill9 import kill_run

pytestmark = pytest.mark.micropython


def test_killed_while_replenish_answer_is_held_back_after_delivery(emulator, tmp_path):
    """Amazon placed the order, the answer is held, the device dies; back 26 h later,
    after the delivery and before the household put it in."""
    url, control = emulator
    run = kill_run(control, url, tmp_path, seed=7, mode="hang-after", route="replenish", off_h=26)
    assert run.held, "the replenish request was held when the device died"
    assert not run.problems, run


@pytest.mark.parametrize("seed", range(1, 7))
def test_killed_at_seeded_moments(emulator, tmp_path, seed):
    url, control = emulator
    run = kill_run(control, url, tmp_path, seed)
    assert not run.problems, run
