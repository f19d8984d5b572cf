"""`make bench-frozen`: the lowest heap with the agent frozen into a MicroPython build."""

from pathlib import Path
from typing import Any

import pytest
from drsctl import bench_frozen
from drsctl.board.boards import BOARDS_DIR
from drsctl.firmware import micropython_binary


def test_the_frozen_build_freezes_what_a_board_image_does_and_the_other_nothing() -> None:
    frozen = bench_frozen.manifest(frozen=True)
    assert frozen == f"include({str(BOARDS_DIR / 'agent_manifest.py')!r})\n"
    assert 'package("drsagent"' in (BOARDS_DIR / "agent_manifest.py").read_text()
    assert "include(" not in bench_frozen.manifest(frozen=False)


def _tree(root: Path, with_lib: bool) -> None:
    (root / "ports" / "unix").mkdir(parents=True)
    (root / "ports" / "unix" / "Makefile").write_text("all:\n")
    (root / "mpy-cross").mkdir()
    if with_lib:
        (root / "lib" / "micropython-lib").mkdir(parents=True)
        (root / "lib" / "micropython-lib" / "README.md").write_text("")


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ("empty", "is not a MicroPython source tree"),
        ("no micropython-lib", "git submodule update --init"),
        ("nothing to build", "make -C"),
    ],
)
def test_a_tree_that_cannot_be_built_is_one_clear_line(
    tmp_path: Path, capsys, layout: str, message: str
) -> None:
    if layout != "empty":
        _tree(tmp_path, with_lib=layout == "nothing to build")
    assert bench_frozen.main(["--src", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1


def test_measure_bisects_each_build_and_writes_the_section(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    """Both builds measured the same way: the frozen one completes with less heap."""
    needed_k = {"plain": 70, "frozen": 33}

    def build(source: Path, work: Path, frozen: bool) -> Path:
        return Path(micropython_binary() + ("#frozen" if frozen else "#plain"))

    def run_sim(runtime: str, days: float, heap: str | None = None, slots: int = 2,
                binary: str | None = None) -> dict[str, Any]:  # fmt: skip
        kind = binary.rsplit("#", 1)[1]
        enough = heap is None or int(heap.rstrip("k")) >= needed_k[kind]
        return {"crashes": 0 if enough else 1, "duplicate_orders": 0, "stockout_days": 0,
                "orders": 3, "net_errors": {}, "peak_mem_alloc": needed_k[kind] * 900}  # fmt: skip

    monkeypatch.setattr(bench_frozen, "build", build)
    monkeypatch.setattr(bench_frozen, "version", lambda binary: "MicroPython v1.29.0")
    monkeypatch.setattr(bench_frozen, "run_sim", run_sim)
    monkeypatch.setattr("drsctl.bench.run_sim", run_sim)
    args = ["--src", str(tmp_path), "--days", "2", "--update", str(tmp_path)]
    assert bench_frozen.main(args) == 0
    written = (tmp_path / bench_frozen.FROZEN_FILE).read_text()
    assert "| agent loaded as `.mpy` | 70 KiB | 63000 bytes |" in written
    assert "| agent frozen in | 33 KiB | 29700 bytes |" in written
    assert "MicroPython v1.29.0's unix port" in written and "2-day run" in written
    assert written.strip() == capsys.readouterr().out.strip()


def test_the_version_is_the_one_the_binary_reports() -> None:
    assert bench_frozen.version(Path(micropython_binary())).startswith("MicroPython ")


def test_update_needs_an_existing_folder(tmp_path: Path, capsys) -> None:
    assert bench_frozen.main(["--src", str(tmp_path), "--update", str(tmp_path / "no")]) == 2
    assert "does not exist" in capsys.readouterr().err
