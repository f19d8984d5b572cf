# Small shims so the same source runs on MicroPython and CPython.
import gc
import sys

IS_MICROPYTHON = sys.implementation.name == "micropython"
collect = gc.collect

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


def run_once(mod, fn, *args):
    """Call drsagent.<mod>.<fn>(*args) from a boot-only/rare module, then unload it
    (out of sys.modules and the package) so its code can be collected."""
    name = "drsagent." + mod
    m = __import__(name, None, None, (fn,), 0)
    try:
        return getattr(m, fn)(*args)
    finally:
        m = None
        sys.modules.pop(name, None)
        p = sys.modules.get("drsagent")
        if p is not None:
            p.__dict__.pop(mod, None)
        collect()
