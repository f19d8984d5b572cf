# Small shims so the same source runs on MicroPython and CPython.
import sys

IS_MICROPYTHON = sys.implementation.name == "micropython"

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


try:
    import gc

    def collect():
        gc.collect()

    def mem_free():
        return gc.mem_free() if IS_MICROPYTHON else -1

    def mem_alloc():
        return gc.mem_alloc() if IS_MICROPYTHON else -1

except ImportError:  # pragma: no cover

    def collect():
        pass

    def mem_free():
        return -1

    def mem_alloc():
        return -1


def unload(name):
    """Drop a boot-only module (e.g. "drsagent.config") so its code can be collected."""
    sys.modules.pop(name, None)
    pkg, _, leaf = name.rpartition(".")
    p = sys.modules.get(pkg)
    if p is not None and leaf in p.__dict__:
        try:
            delattr(p, leaf)
        except (AttributeError, TypeError):  # pragma: no cover
            pass
    collect()


def run_once(mod, fn, *args):
    """Call drsagent.<mod>.<fn>(*args) from a boot-only/rare module, then unload it."""
    m = __import__("drsagent." + mod, None, None, (fn,), 0)
    try:
        return getattr(m, fn)(*args)
    finally:
        m = None
        unload("drsagent." + mod)
