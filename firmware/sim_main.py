# Simulator entry (desktop only): the link itself lives in simhost.py, outside the
# drsagent package so that a frozen device image never carries it.
# The script's own folder holds the firmware sources; move it behind the module
# path (MICROPYPATH: the precompiled .mpy tree, as on a board) so the agent is
# not compiled from source in the heap.
import sys

sys.path.append(sys.path.pop(0))
import simhost  # noqa: E402

simhost.main()
