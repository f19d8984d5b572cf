# The order policy: from what a slot has learned to a decision. Pure: no I/O, nothing
# of its own; it reads the slot's persisted dict (estimator.py: level, use per day and
# its daily history; leadtime.py: lead times) and the slot's config.
#
# Order when the stock is expected to fall below a small reserve before a delivery
# ordered now would be in the slot: level <= planning rate x lead time + reserve. The
# lead time is the learned high one (lead_days below, from what leadtime.py recorded),
# max_lead_time_days until enough deliveries are on record, and never beyond it while
# no delivery took longer; while no delivery has been seen yet, margin_days is added on
# top. The planning rate carries the use variability (the worst run of days in the
# history as long as the lead time: estimator.planning_rate).
#
# order_ceiling guards only against an obvious mistake: above it an order needs a
# settled history (a week of whole days) or, before that, every whole day so far
# having used enough to ask for it, so a first wild estimate (a rate from a few hours)
# cannot order a nearly full slot, while a forecast built on real data is never blocked
# by it: a slot that lasts 10 days and boots at 80 % orders after its first day, not
# once it is half empty.
#
# Whether the slot can be kept stocked at all is capacity.py's question.
from drsagent import estimator
from drsagent.compat import const

_K_LEADS = const("lh")  # lead times seen, hours (leadtime.py records them)
_K_HISTORY = const("uh")  # use per day, 1/_UNIT (estimator.py's)
_UNIT = const(10000)
_SETTLED_DAYS = const(7)
_TRUSTED = const(8)  # deliveries seen before the data alone decides the lead time
_HOURS_PER_DAY = const(24)


def lead_days(state, config):
    """The lead time (days) to plan an order with, high, not the mean: the recent
    maximum plus a spread term, 3 (max - min) / n over the n deliveries on record (for
    lead times spread evenly, (max - min) / n is about how far the next may still
    exceed the maximum; it shrinks as deliveries are learned).

    max_lead_time_days (the longest plausible delivery) bounds it while no delivery
    took longer: it is the plan until _TRUSTED deliveries have been seen (a few quick
    ones say little about the slow ones still to come), and the spread term never
    plans past it (the prior already covers the slow deliveries; planning past it only
    leaves stock at the refill). Once a delivery took longer, the prior was wrong and
    the deliveries decide."""
    prior = config["max_lead_time_days"]
    leads = state.get(_K_LEADS)
    if not leads:
        return prior
    n = len(leads)
    top = max(leads) / _HOURS_PER_DAY
    days = top + (top - min(leads) / _HOURS_PER_DAY) * 3 / n
    if top <= prior and (n < _TRUSTED or days > prior):
        return prior
    return days


def decide(state, config):
    """None, or why to order now: "floor" (at/below the floor) or "forecast" (the stock
    would fall below the reserve before a delivery ordered now could arrive)."""
    level = estimator.level(state)
    if level is None:
        return None
    if level <= config["floor"]:
        return "floor"
    # days until a delivery ordered now would be in the slot, planned high
    days = lead_days(state, config)
    if not state.get(_K_LEADS):  # no delivery seen yet
        days += config["margin_days"]
    if level > config["order_ceiling"] and estimator.known_days(state) < _SETTLED_DAYS:
        # Not settled yet: above the ceiling, plan with the smallest whole day so far
        # (a fall measured over whole days, not a first short-term rate; never above
        # the planning rate). A slot that lasts 10 days and boots at 80 % cannot wait
        # for a second day when the delivery may take 7: a large first dose may order
        # one container early, which is the lesser harm.
        history = state.get(_K_HISTORY)
        rate = min(history) / _UNIT if history else 0
    else:
        rate = estimator.planning_rate(state, days)
        if rate <= 0:  # no whole day seen yet: the short-term rate, or the maker's guess
            rate = estimator.daily_rate(state) or config["daily_use"]
    # plus 0.02: the smoothed level's own error (noise, lag): never plan to zero
    if rate <= 0 or level > rate * days + 0.02:
        return None
    return "forecast"
