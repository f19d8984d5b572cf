# The order policy: from an estimate (level, daily rate) and the slot's config to a
# decision. Pure: no state, no I/O, so a smarter policy (learned lead times) can
# replace it without touching the loop or the order machine.


def decide(level, daily_rate, config):
    """None, or why to order now: "floor" (at/below the floor) or "forecast" (runs out
    before a delivery could arrive: lead time plus margin)."""
    if level is None:
        return None
    if level <= config["floor"]:
        return "floor"
    if level > config["order_ceiling"]:
        return None
    if daily_rate <= 0:  # nothing measured yet: an optional prior from config
        daily_rate = config["daily_use"]
    if daily_rate > 0 and level / daily_rate <= config["lead_time_days"] + config["margin_days"]:
        return "forecast"
    return None
