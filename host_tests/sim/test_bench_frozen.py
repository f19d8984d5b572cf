"""`make bench-frozen`: the lowest heap with the agent frozen into a MicroPython build."""

import re
from pathlib import Path

import pytest
from drsctl import bench_frozen
from drsctl.board.boards import BOARDS_DIR
from drsctl.firmware import micropython_binary
from drsctl.sim.device import runtime_mpy_abi

from host_tests.fakes import fake_run_sim

PINNED_MPY = runtime_mpy_abi(micropython_binary())[0]


def test_the_frozen_build_freezes_what_a_board_image_does_and_the_other_nothing() -> None:
    agent_manifest = BOARDS_DIR / "agent_manifest.py"
    assert 'package("drsagent"' in agent_manifest.read_text()
    assert str(agent_manifest) in bench_frozen.manifest(frozen=True)
    assert str(agent_manifest) not in bench_frozen.manifest(frozen=False)


def _tree(root: Path, mpy_version: int, with_lib: bool = True) -> None:
    (root / "ports" / "unix").mkdir(parents=True)
    (root / "ports" / "unix" / "Makefile").write_text("all:\n")
    (root / "py").mkdir()
    (root / "py" / "persistentcode.h").write_text(f"#define MPY_VERSION {mpy_version}\n")
    if with_lib:
        (root / "lib" / "micropython-lib").mkdir(parents=True)
        (root / "lib" / "micropython-lib" / "README.md").write_text("")


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ("empty", "is not a MicroPython source tree"),
        ("no micropython-lib", "git submodule update --init lib/micropython-lib"),
        ("older .mpy", "check out MicroPython v"),
        ("nothing to build", "make -C"),  # mpy-cross has no Makefile here
    ],
)
def test_a_tree_that_cannot_be_built_is_one_clear_line(
    tmp_path: Path, capsys, layout: str, message: str
) -> None:
    if layout != "empty":
        older = layout == "older .mpy"
        _tree(tmp_path, PINNED_MPY - older, with_lib=layout != "no micropython-lib")
    assert bench_frozen.main(["--src", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1


def _fake_builds(monkeypatch, needed_k: dict[str, int]) -> None:
    """Builds that are the pinned binary under another name; runs that need needed_k."""
    monkeypatch.setattr(bench_frozen, "check_source", lambda source: None)
    monkeypatch.setattr(
        bench_frozen,
        "build",
        lambda source, work, frozen: Path(
            f"{micropython_binary()}#{'frozen' if frozen else 'plain'}"
        ),
    )
    monkeypatch.setattr(bench_frozen, "version", lambda binary: "MicroPython v1.29.0")
    monkeypatch.setattr(bench_frozen, "agent_commit", lambda: "abc1234")
    reference = {"crashes": 0, "duplicate_orders": 0, "stockout_days": 0, "orders": 3,
                 "net_errors": {}, "peak_mem_alloc": 23168}  # fmt: skip
    run = fake_run_sim(lambda binary: needed_k[binary.rsplit("#", 1)[1]], reference)
    monkeypatch.setattr(bench_frozen, "run_sim", run)
    monkeypatch.setattr("drsctl.bench.run_sim", run)


def test_measure_bisects_each_build_and_writes_the_section(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    _fake_builds(monkeypatch, {"plain": 70, "frozen": 33})
    args = ["--src", str(tmp_path), "--days", "2", "--update", str(tmp_path)]
    assert bench_frozen.main(args) == 0
    written = (tmp_path / bench_frozen.FROZEN_FILE).read_text()
    assert "| agent loaded as `.mpy` | 70 KiB | 23168 bytes |" in written
    assert "| agent frozen in | 33 KiB | 23168 bytes |" in written
    assert "MicroPython v1.29.0's unix port" in written and "2-day run" in written
    assert "the agent of commit abc1234." in written
    assert written.strip() == capsys.readouterr().out.strip()


def test_a_build_whose_run_fails_says_which_and_why(tmp_path: Path, monkeypatch, capsys) -> None:
    _fake_builds(monkeypatch, {"plain": 70, "frozen": 33})
    crashed = {"crashes": 1, "failure": "MemoryError"}  # even with the default heap
    monkeypatch.setattr(bench_frozen, "run_sim", lambda *args, **kwargs: crashed)
    assert bench_frozen.main(["--src", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "error: the run on the mpy build failed with the default heap: MemoryError"


def test_the_version_and_commit_are_the_ones_reported() -> None:
    assert bench_frozen.version(Path(micropython_binary())).startswith("MicroPython ")
    assert re.fullmatch(r"[0-9a-f]{7,}\+?", bench_frozen.agent_commit())


def test_update_needs_an_existing_folder(tmp_path: Path, capsys) -> None:
    assert bench_frozen.main(["--src", str(tmp_path), "--update", str(tmp_path / "no")]) == 2
    assert "does not exist" in capsys.readouterr().err
