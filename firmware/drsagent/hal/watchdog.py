# Hardware watchdog (machine.WDT): the board resets itself when the device loop stops
# feeding it (a hang in a driver, a TLS stack wedged). Once started it cannot be
# stopped, so the loop feeds it also while it waits for the next pass.
from drsagent.compat import const

_MIN_TIMEOUT_S = const(30)  # below this a slow TLS handshake alone could trip it


def start(requested_s, machine=None):
    """The started watchdog (feed() it), or None on a port without one (the unix
    port without the virtual board's machine module)."""
    if machine is None:
        try:
            import machine  # board module: only imported on a board
        except ImportError:
            return None
    make = getattr(machine, "WDT", None)
    if make is None:
        return None
    return make(0, timeout=timeout_s(requested_s) * 1000)


def timeout_s(requested_s):
    """The timeout start() sets for a requested one."""
    return max(requested_s, _MIN_TIMEOUT_S)
