# Can one order at a time keep this slot stocked? Amazon answers ORDER_INPROGRESS until
# a delivery arrives, so a container that lasts less than a delivery takes runs dry
# every cycle whatever the policy does. Checked after each refill (rarely): loaded for
# the call and unloaded again (compat.run_once).
from drsagent import estimator
from drsagent.compat import const

_K_CANNOT_STOCK = const("cs")  # state.json: the slot cannot be kept stocked (reported)
_K_HISTORY = const("uh")  # use per day, 1/_UNIT (estimator.py's)
_K_LEADS = const("lh")  # lead times seen (leadtime.py's)
_UNIT = const(10000)
_SETTLED_DAYS = const(7)
_FIX = const("a bigger container, or a quantity above 1 per order in the slot's Amazon setup")


def report(emit, sid, d, t):
    """After a refill: when a full container lasts less than the slowest delivery on
    record (with a week of use), tell once (cannot_stock, with the fix) and
    keep the flag in d for status tools; drop the flag once that is over. Returns True
    when d changed."""
    history = d.get(_K_HISTORY) or ()
    short = None
    leads = d.get(_K_LEADS)
    if estimator.known_days(d) >= _SETTLED_DAYS and leads:
        rate = sum(history) / len(history) / _UNIT  # mean use per day
        lead = max(leads) / 24
        if rate > 0 and 1 / rate < lead:
            short = (round(1 / rate, 1), round(lead, 1))
    if (short is not None) == (_K_CANNOT_STOCK in d):
        return False
    if short is None:
        d.pop(_K_CANNOT_STOCK)
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
