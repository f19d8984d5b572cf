# The reading filter: turns a sensor's raw value into a trusted fill level (0..1) or
# nothing. Garbage (None, wrong type, NaN, out of range, stuck) is rejected; a big
# jump is held until further readings agree with it; after `fault_after` rejections
# in a row the filter reports a fault, cleared by the next accepted reading.
#
# One small list per slot (a list costs less heap than an object with named
# attributes); its fields are the named indices below. RAM only, except in deep sleep:
# each wake is a boot, so the list is kept in state.json (boot.restore_filter).
from drsagent.compat import const

_LEVEL = const(0)  # the last accepted fraction
_FAULT = const(1)  # the fault reason, once `fault_after` rejections came in a row
_REJECT_REASON = const(2)  # the last rejection's reason
_REJECTS = const(3)  # rejections in a row
_LAST_RAW = const(4)  # stuck detection: the last raw value ...
_SAME_RAW = const(5)  # ... and how often in a row it came
_PENDING = const(6)  # an unconfirmed big jump ...
_CONFIRMS = const(7)  # ... and the readings that agreed with it since
_CONFIRM = const(2)  # further consistent readings that confirm a big jump ...
_CONFIRM_FIRST = const(1)  # ... or a first reading (nothing to jump from)
# Each field's kind, in order (boot.restore_filter checks a saved filter with it):
# n a number or None, s text or None, i an int.
FIELD_KINDS = const("nssinini")


def new_filter(level=None):
    """A filter seeded with the last known level (a glitch after a reboot is held)."""
    return [level, None, None, 0, None, 0, None, 0]


def accepted(filter):
    """The last accepted fraction (the seed level after a boot), or None."""
    return filter[_LEVEL]


def fault(filter):
    """The fault reason (a short string), or None while readings are accepted."""
    return filter[_FAULT]


def feed(filter, slot, raw):
    """Take a raw reading with the slot's config; return the accepted fraction or None.

    Calibration is linear between sensor["empty"] and sensor["full"] (either may be
    larger: a distance sensor reads less when fuller); a little outside 0..1 is clamped.
    A constant reading at or under the slot's floor is an empty container, not stuck.
    """
    f = filter
    sensor = slot["sensor"]
    if raw is None:
        why = "none"
    elif isinstance(raw, bool) or not isinstance(raw, (int, float)):
        why = "type"
    elif raw - raw != 0:  # NaN and +-inf both give NaN here; no math import needed
        why = "nan"
    else:
        if raw == f[_LAST_RAW]:
            f[_SAME_RAW] += 1
        else:
            f[_LAST_RAW] = raw
            f[_SAME_RAW] = 1
        stuck_after = sensor["stuck_readings"]
        empty = sensor["empty"]
        x = (raw - empty) / (sensor["full"] - empty)
        if stuck_after and f[_SAME_RAW] >= stuck_after and x > slot["floor"]:
            why = "stuck"
        elif x < -0.05 or x > 1.05:
            why = "range"
        else:
            x = 0.0 if x < 0 else 1.0 if x > 1 else x
            spike = sensor["spike"]
            why = None
            last = f[_LEVEL]
            if last is None or abs(x - last) > spike:
                # A refill or a glitch: hold it until further readings agree. So is a
                # first reading with nothing to compare (a fresh device, or its state
                # lost): alone, a glitch at empty would place an order.
                pending = f[_PENDING]
                if pending is not None and abs(x - pending) <= spike / 2:
                    f[_CONFIRMS] += 1
                else:
                    f[_PENDING] = x
                    f[_CONFIRMS] = 0
                if f[_CONFIRMS] < (_CONFIRM if last is not None else _CONFIRM_FIRST):
                    why = "spike"
            if why is None:
                f[_LEVEL] = x
                f[_FAULT] = f[_REJECT_REASON] = f[_PENDING] = None
                f[_REJECTS] = f[_CONFIRMS] = 0
                return x
    f[_REJECT_REASON] = why
    f[_REJECTS] += 1
    if f[_REJECTS] >= sensor["fault_after"]:
        f[_FAULT] = why
    return None
