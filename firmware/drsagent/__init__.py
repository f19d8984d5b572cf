"""drsagent: the Dash Replenishment firmware agent (MicroPython and CPython)."""

VERSION = "0.1.0"
