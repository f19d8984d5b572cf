# When to order, from what the slot has learned (usage.py, leadtime.py).
#
# Order when the stock is expected to fall below the reserve before a delivery ordered
# now would be in the slot: level <= planning rate x lead time + reserve, where the
# lead time is the learned high one (leadtime.days) plus one loop pass, and the planning
# rate already carries the use variability (usage.planning_rate). While the lead time is
# still the configured guess, margin_days is added on top of it.
#
# order_ceiling guards only against an obvious mistake: above it an order needs a
# settled use history (a week of whole days), so a first wild estimate cannot order a
# nearly full slot, while a forecast built on real data is never blocked by it.
#
# One order at a time per slot (Amazon answers ORDER_INPROGRESS until delivery): a
# container that lasts less than the lead time cannot be kept stocked whatever the
# policy does. cannot_stock() says so, for the agent to report.
from drsagent import leadtime, usage
from drsagent.compat import const

_RESERVE = 0.02  # the smoothed level's own error (noise, lag): never plan to zero
_SETTLED_DAYS = const(7)


def horizon(d, c, loop_days):
    """Days until a delivery ordered now would be in the slot, planned high."""
    days = leadtime.days(d, c.get("lead_time_days", 3))
    if not leadtime.observed(d):
        days += c.get("margin_days", 1)
    return days + loop_days


def decide(d, c, level, fallback_rate, loop_days):
    """None, or why to order now: "floor" (at/below the floor) or "forecast".

    fallback_rate (fraction/day) is used until the history holds a whole day."""
    if level is None:
        return None
    if level <= c.get("floor", 0.1):
        return "floor"
    days = horizon(d, c, loop_days)
    rate = usage.planning_rate(d, days)
    if rate <= 0:
        rate = fallback_rate if fallback_rate > 0 else c.get("daily_use", 0)
    if rate <= 0 or level > rate * days + _RESERVE:
        return None
    if level > c.get("order_ceiling", 0.5) and usage.known_days(d) < _SETTLED_DAYS:
        return None
    return "forecast"


def cannot_stock(d, c):
    """(container_days, lead_days) when a full container lasts less than the learned
    lead time (the slot cannot be kept stocked with one order at a time), else None."""
    if usage.known_days(d) < _SETTLED_DAYS or not leadtime.observed(d):
        return None
    rate = usage.mean_rate(d)
    lead = leadtime.days(d, c.get("lead_time_days", 3))
    if rate <= 0 or 1 / rate >= lead:
        return None
    return round(1 / rate, 1), round(lead, 1)
