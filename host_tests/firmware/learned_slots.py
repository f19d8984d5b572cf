"""Slot records that have already learned, for the policy and capacity tests."""

from drsagent import leadtime

from host_tests.fakes import DAY, T0


def learned(daily_use, lead_days, days=28, level=None):
    """A slot dict that has seen `days` days of `daily_use` and three deliveries that
    each took `lead_days` (from placing the order to seeing the refill)."""
    d = {"uh": [int(daily_use * 10000)] * days}
    if level is not None:
        d["l"] = level
    t = T0
    for _ in range(3):
        leadtime.ordered(d, t)
        t += int(lead_days * DAY)
        leadtime.refill(d, t)
    return d
