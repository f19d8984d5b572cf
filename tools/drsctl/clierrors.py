"""The CLI's one-line errors: what is wrong and what to do, never a traceback."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

_stderr = Console(stderr=True)


def usage_error(option: str, message: str) -> NoReturn:
    """One line saying which option is wrong and why; exit code 2."""
    _stderr.print(f"error: {option}: {message}", highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(2)


def runtime_error(message: str) -> NoReturn:
    """One line saying what went wrong and what to do; exit code 1."""
    _stderr.print(f"error: {message}", highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(1)
