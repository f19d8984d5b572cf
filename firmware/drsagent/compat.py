# Small shims so the same source runs on MicroPython and CPython.
import gc
import sys

IS_MICROPYTHON = sys.implementation.name == "micropython"


# The agent collects around network calls so MicroPython's small heap stays in one
# piece. CPython frees by reference counting: there a full collection only costs time
# (tens of ms with a big heap, e.g. a fleet of agents in one process).
collect = gc.collect if IS_MICROPYTHON else (lambda: None)

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


def run_once(module, function, *args):
    """Call drsagent.<module>.<function>(*args) from a boot-only/rare module, then
    unload it (out of sys.modules and the package) so its code can be collected."""
    name = "drsagent." + module
    m = __import__(name, None, None, (function,), 0)
    try:
        return getattr(m, function)(*args)
    finally:
        m = None
        sys.modules.pop(name, None)
        p = sys.modules.get("drsagent")
        if p is not None:
            p.__dict__.pop(module, None)
        collect()
