"""Board support on the desktop.

The CA bundle for the device, flashing MicroPython, and the project-wide MicroPython
version (``boards/micropython-version.txt``).
"""

from __future__ import annotations

from pathlib import Path

BOARDS_DIR = Path(__file__).resolve().parents[3] / "boards"
VERSION_FILE = BOARDS_DIR / "micropython-version.txt"


def micropython_version() -> str:
    """The MicroPython release the project builds and runs (e.g. ``1.28.0``)."""
    return VERSION_FILE.read_text().split()[0]
