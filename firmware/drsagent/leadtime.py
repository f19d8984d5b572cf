# A slot's delivery lead time, learned from its own orders: from placing an order until
# the household has put the delivery in (placed -> refill seen: what the slot really
# waits), with Amazon's expectedDeliveryDate as a lower bound while the order is open.
#
# The estimate to plan with is a high one, not the mean: the recent maximum plus a
# spread term, 1.5 (max - min) / n over the last _KEEP orders (for lead times spread
# evenly, (max - min) / n is about how far the next order may still exceed the
# maximum; 1.5 of it halves the stockouts for a little more stock left, measured on
# the benchmark traces). Until _TRUSTED orders have been seen, twice the configured
# lead_time_days (the maker's typical figure) is a floor.
#
# Persisted in the slot's dict of state.json under the short keys below (a file
# format, listed in docs/contracts.md); plain ints, no float on flash.
from drsagent.compat import const

_K_LEADS = const("lh")  # lead times seen, in hours, oldest first (at most _KEEP)
_K_PLACED = const("lp")  # when the open order was placed (epoch s); gone once refilled
_K_EXPECTED = const("le")  # the open order's expectedDeliveryDate (epoch s), if known

_KEEP = const(16)
_TRUSTED = const(3)  # orders seen before the data alone decides
_HOUR = const(3600)
_HOURS_PER_DAY = const(24)
_MAX_HOURS = const(2160)  # 90 days: longer is no delivery, it is a lost order


def placed(d, t):
    """An order went out at t (a new low episode). An adopted order (ORDER_INPROGRESS)
    keeps the time of the attempt that placed it, if known."""
    if _K_PLACED not in d:
        d[_K_PLACED] = t
    d.pop(_K_EXPECTED, None)


def expected(d, eta):
    """Amazon's expectedDeliveryDate (epoch s) for the open order."""
    if eta and _K_PLACED in d:
        d[_K_EXPECTED] = eta


def forget(d):
    """The open order will bring nothing (canceled, or lost track of)."""
    d.pop(_K_PLACED, None)
    d.pop(_K_EXPECTED, None)


def refilled(d, t):
    """A refill was seen at t: if an order was out, it took t - placed."""
    start = d.pop(_K_PLACED, None)
    d.pop(_K_EXPECTED, None)
    if start is None or t <= start:
        return
    hours = (t - start + _HOUR // 2) // _HOUR
    if hours > _MAX_HOURS:
        return
    leads = d.get(_K_LEADS)
    if not isinstance(leads, list):
        leads = d[_K_LEADS] = []
    if len(leads) >= _KEEP:
        leads.pop(0)
    leads.append(hours)


def days(d, prior_days, t=None):
    """The lead time (days) to plan an order with; prior_days until there is data.

    With t (now), an open order that has already waited longer, or that Amazon expects
    later, than the estimate raises it: a lead time that grows is seen before the
    delivery arrives."""
    leads = d.get(_K_LEADS) or ()
    n = len(leads)
    # The prior is the maker's typical lead time; until the data decides, plan with
    # twice that (a high quantile of an unknown spread) or more if seen.
    high = prior_days * 2 * _HOURS_PER_DAY
    if n:
        top = max(leads)
        spread = top + (top - min(leads)) * 3 / (2 * n)
        high = spread if n >= _TRUSTED else max(high, spread)
    start = d.get(_K_PLACED)
    if t is not None and start is not None:
        high = max(high, (t - start) / _HOUR, (d.get(_K_EXPECTED, start) - start) / _HOUR)
    return high / _HOURS_PER_DAY


def repair(d):
    """Drop this module's keys from a slot dict read from flash if they are broken
    (boot only): learning starts over rather than a bad value stopping the slot."""
    leads = d.get(_K_LEADS)
    if leads is not None and not (
        isinstance(leads, list) and all(_is_count(h) and 0 < h <= _MAX_HOURS for h in leads)
    ):
        d.pop(_K_LEADS)
    for key in (_K_PLACED, _K_EXPECTED):
        if key in d and not _is_count(d[key]):
            d.pop(key)


def _is_count(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def observed(d):
    """How many lead times are on record."""
    return len(d.get(_K_LEADS) or ())
