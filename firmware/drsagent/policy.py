# The order policy: from an estimate (level, daily rate) and the slot's settings to a
# decision. Pure: no state, no I/O, so a smarter policy (learned lead times) can
# replace it without touching the loop or the order machine.


def decide(level, daily_rate, settings):
    """None, or why to order now: "floor" (at/below the floor) or "forecast" (runs out
    before a delivery could arrive: lead time plus margin)."""
    if level is None:
        return None
    if level <= settings["floor"]:
        return "floor"
    if level > settings["order_ceiling"]:
        return None
    if daily_rate <= 0:  # nothing measured yet: an optional prior from config
        daily_rate = settings["daily_use"]
    if (
        daily_rate > 0
        and level / daily_rate <= settings["lead_time_days"] + settings["margin_days"]
    ):
        return "forecast"
    return None
