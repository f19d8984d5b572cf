"""Listing the scenarios (check_* functions) of a scenario module for parametrize.

Its own module, not conftest.py: test modules cannot import from a conftest by name
when another test folder's conftest was imported first.
"""

import importlib


def scenario_names(module: str) -> list[str]:
    """The check_* functions of a scenario module, in file order."""
    return [n for n in vars(importlib.import_module(module)) if n.startswith("check_")]
