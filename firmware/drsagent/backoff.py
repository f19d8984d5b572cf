# Retry delays for the agent's own scheduler: exponential, capped, jittered so
# a fleet of devices that failed together does not retry together.
import os

_MAX_SHIFT = 30  # 2**30 * base is far beyond any cap; avoids big ints on the device


def _urandom():
    # Hardware RNG where available; random.random may be unseeded at boot.
    return int.from_bytes(os.urandom(4), "big") / 4294967296


try:
    os.urandom(1)
    _rand = _urandom
except (AttributeError, OSError):  # pragma: no cover
    import random

    _rand = random.random


def delay(attempt, base=60, cap=86400, rand=None, prev=None):
    """Seconds to wait before retry number `attempt` (0 = first retry).

    Default: "equal jitter" on the exponential ceiling c = min(cap, base * 2**attempt),
    i.e. uniform in [c/2, c): never zero, grows with attempt, at most cap.
    With prev= (the last delay) it is decorrelated jitter: uniform in
    [base, min(cap, 3 * prev)). rand() returns a float in [0, 1).
    """
    r = (rand or _rand)()
    if prev is not None:
        hi = min(cap, max(base, prev * 3))
        d = base + r * (hi - base)
    else:
        if attempt < 0:
            attempt = 0
        c = min(cap, base * (1 << min(attempt, _MAX_SHIFT)))
        d = c / 2 + r * c / 2
    d = int(d)
    if d < 1:
        d = 1
    return min(d, cap) if cap >= 1 else d
