# A slot's delivery lead time, learned from its own orders: from placing an order until
# the household has put the delivery in (placed -> refill seen: what the slot really
# waits), never less than Amazon's expectedDeliveryDate for that order (a refill seen
# earlier, bought elsewhere or early, says little about the next delivery).
#
# Persisted in the slot's dict of state.json under the short keys below (a file
# format, listed in docs/contracts.md); plain ints, no float on flash. What is learned
# here changes only on order events (placed, polled, canceled, refilled), so this
# module is loaded for each call and dropped again (compat.run_once); the estimate the
# policy plans with every loop is policy.lead_days.
from drsagent.compat import const
from drsagent.timefmt import iso

_K_LEADS = const("lh")  # lead times seen, in hours, oldest first (at most _KEEP)
_K_PLACED = const("lp")  # when the open order was placed (epoch s); gone once refilled
_K_EXPECTED = const("le")  # the open order's expectedDeliveryDate, hours after placed

_KEEP = const(16)
_HOUR = const(3600)
_MAX_HOURS = const(2160)  # 90 days: longer is no delivery, it is a lost order


def ordered(d, t):
    """An order went out at t (a new low episode). An adopted order (ORDER_INPROGRESS)
    keeps the time of the attempt that placed it, if known."""
    if _K_PLACED not in d:
        d[_K_PLACED] = t
    d.pop(_K_EXPECTED, None)


def status(d, text):
    """Amazon's expectedDeliveryDate for the open order, as getOrderInfo gives it
    ("2026-01-01T00:00:00.000Z"), kept as whole hours after placing; a date that is no
    time within _MAX_HOURS after placing is ignored."""
    start = d.get(_K_PLACED)
    if start is None or not isinstance(text, str):
        return
    # ISO 8601 times in one format sort as text: find the first hour after start that
    # is at or past the date by bisection over timefmt.iso (no date parser needed).
    text = text[:19]
    if text <= iso(start):
        return
    low = 1
    high = _MAX_HOURS + 1
    while low < high:
        mid = (low + high) // 2
        if iso(start + mid * _HOUR) < text:
            low = mid + 1
        else:
            high = mid
    if low <= _MAX_HOURS:
        d[_K_EXPECTED] = low


def canceled(d):
    """The open order will bring nothing (canceled, or lost track of)."""
    d.pop(_K_PLACED, None)
    d.pop(_K_EXPECTED, None)


def refill(d, t):
    """A refill was seen at t: if an order was out, it took t - placed (or until its
    expected delivery date, if that is later)."""
    start = d.pop(_K_PLACED, None)
    expected_hours = d.pop(_K_EXPECTED, 0)
    if start is None or t <= start:
        return
    hours = max((t - start + _HOUR // 2) // _HOUR, expected_hours)
    if hours > _MAX_HOURS:
        return
    leads = d.get(_K_LEADS)
    if not isinstance(leads, list):
        leads = d[_K_LEADS] = []
    if len(leads) >= _KEEP:
        leads.pop(0)
    leads.append(hours)
