# Can one order at a time keep this slot stocked? Amazon answers ORDER_INPROGRESS until
# a delivery arrives, so a container that lasts less than a delivery takes runs dry
# every cycle whatever the policy does. Checked after each refill (rarely): loaded for
# the call and unloaded again (compat.run_once).
from drsagent import estimator
from drsagent.compat import const
from drsagent.policy import deliveries_seen, lead_days

_K_CANNOT_STOCK = const("cs")  # state.json: the slot cannot be kept stocked (reported)
_SETTLED_DAYS = const(7)
_FIX = const("a bigger container, or a quantity above 1 per order in the slot's Amazon setup")


def cannot_stock(d, config):
    """(container_days, lead_days) when a full container lasts less than the learned
    lead time, else None (also while a week of use or a delivery is still unknown)."""
    if estimator.known_days(d) < _SETTLED_DAYS or not deliveries_seen(d):
        return None
    rate = estimator.mean_rate(d)
    lead = lead_days(d, config["lead_time_days"])
    if rate <= 0 or 1 / rate >= lead:
        return None
    return round(1 / rate, 1), round(lead, 1)


def check(emit, sid, config, d, t):
    """Tell once (emit cannot_stock, with the fix) when the slot cannot be kept stocked,
    and once (stock_ok) when that is over; the flag stays in d for status tools.
    Returns True when d changed."""
    short = cannot_stock(d, config)
    if (short is not None) == (_K_CANNOT_STOCK in d):
        return False
    if short is None:
        d.pop(_K_CANNOT_STOCK)
        emit("stock_ok", t=t, slot=sid)
    else:
        d[_K_CANNOT_STOCK] = 1
        emit(
            "cannot_stock",
            t=t,
            slot=sid,
            container_days=short[0],
            lead_days=short[1],
            fix=_FIX,
        )
    return True
