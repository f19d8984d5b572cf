"""The virtual clock's origin and persistence (wall time frozen with freezegun)."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from drsctl.emulator import clock
from drsctl.emulator.store import Store
from freezegun import freeze_time


@freeze_time("2031-05-06 07:08:09.6")
def test_a_new_database_starts_at_the_wall_time_rounded(tmp_path: Path) -> None:
    store = Store(tmp_path / "a.sqlite3")
    with store.tx() as tx:
        assert tx.now() == round(datetime(2031, 5, 6, 7, 8, 9, 600000, tzinfo=UTC).timestamp())


def test_the_clock_survives_a_restart_and_ignores_the_wall_clock(tmp_path: Path) -> None:
    with freeze_time("2031-05-06 00:00:00"):
        store = Store(tmp_path / "b.sqlite3")
        with store.tx() as tx:
            moved = clock.advance(tx, 86400 * 3)
    with freeze_time("2040-01-01 00:00:00"):
        again = Store(tmp_path / "b.sqlite3")
        with again.tx() as tx:
            assert tx.now() == moved
            with pytest.raises(clock.ClockError):
                clock.set_to(tx, moved - 1)
