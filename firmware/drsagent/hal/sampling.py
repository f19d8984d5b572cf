# What the sensor drivers share: tick arithmetic for their timeouts, short waits and the
# median of their samples. Its own module so that only a board with such a sensor loads it.
try:  # the drivers' timeouts: ticks wrap on a board, so always compare with ticks_diff
    from time import sleep_us, ticks_diff, ticks_ms
except ImportError:  # CPython (host tests)
    import time

    def ticks_ms():
        return int(time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

    def sleep_us(us):
        time.sleep(us / 1000000)


def median(values):
    """Middle value of a non-empty list (the mean of the two middle ones if even);
    sorts the list in place (callers pass a scratch list)."""
    values.sort()
    n = len(values)
    if n & 1:
        return values[n // 2]
    return (values[n // 2 - 1] + values[n // 2]) / 2
