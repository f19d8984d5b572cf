# Retry delays for the agent's own scheduler: exponential, capped, jittered so
# a fleet of devices that failed together does not retry together.
import os

# 0: jitter from the hardware RNG; else the state of a xorshift32 generator, so that a
# test (or a replay of a failing run) gets the same delays again (seed()).
state = [0]


def seed(value):
    """Draw the jitter from a repeatable sequence started by value (0 or None: the
    hardware RNG again)."""
    state[0] = (value or 0) & 0xFFFFFFFF


def random():
    """A float in [0, 1): from the hardware RNG, or the next of the sequence seed() started."""
    x = state[0]
    if not x:
        return int.from_bytes(os.urandom(4), "big") / 4294967296
    x ^= (x << 13) & 0xFFFFFFFF
    x ^= x >> 17
    x ^= (x << 5) & 0xFFFFFFFF
    state[0] = x
    return x / 4294967296


def delay(attempt, base=60, cap=86400, rand=None):
    """Seconds to wait before retry number `attempt` (0 = first retry).

    "Equal jitter" on the exponential ceiling c = min(cap, base * 2**attempt),
    i.e. uniform in [c/2, c): never zero, grows with attempt, at most cap.
    rand() returns a float in [0, 1); by default the hardware RNG (os.urandom:
    random.random may be unseeded at boot) or the sequence seed() started.
    """
    r = rand() if rand else random()
    # 2**30 * base is far beyond any cap; the shift limit avoids big ints on the device
    c = min(cap, base * (1 << min(max(attempt, 0), 30)))
    d = max(int(c / 2 + r * c / 2), 1)
    return min(d, cap) if cap >= 1 else d
