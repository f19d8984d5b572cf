"""Slot records that have already learned, for the policy and capacity tests."""

from drsagent import leadtime

from host_tests.fakes import DAY, T0


def learned(daily_use, lead_days, days=28, level=None, deliveries=8):
    """A slot dict that has seen `days` days of `daily_use` and `deliveries` deliveries
    that each took `lead_days` (from placing the order to seeing the refill; 8: enough
    for the policy to trust them over the prior)."""
    d = {"uh": [int(daily_use * 10000)] * days}
    if level is not None:
        d["l"] = level
    t = T0
    for _ in range(deliveries):
        leadtime.ordered(d, t)
        t += int(lead_days * DAY)
        leadtime.refill(d, t)
    return d
