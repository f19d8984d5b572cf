# When the agent talks to Amazon (docs/contracts.md section 1, "Request schedule").
#
# Every pass that calls DRS needs an LwA access token first, and a token lives one
# hour: a pass a day apart from the next always pays for a refresh. So the agent
# gathers its calls into few passes: once a day, at this device's report time, it
# sends deviceStatus, the pending slotStatus reports and the due order polls on one
# token. The report time is report_hour_utc plus an offset derived from the serial
# (FNV-1a, within _REPORT_WINDOW), the same on every boot and firmware version, so a
# fleet's reports spread over the window instead of arriving in the same second.
from drsagent.compat import const

_HOUR = const(3600)
_DAY = const(86400)
_REPORT_WINDOW = const(14400)  # reports spread over 4 h from report_hour_utc


def report_offset(serial):
    """Seconds after report_hour_utc at which the device with this serial reports."""
    h = 2166136261  # FNV-1a, 32 bit: tiny, and the same result on every runtime
    for b in serial.encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h % _REPORT_WINDOW


def report_time(config):
    """The daily report time: seconds after 00:00 UTC (may exceed a day: wraps)."""
    return config.get("report_hour_utc", 3) * _HOUR + report_offset(
        config["device"].get("serial") or ""
    )


def at_or_after(t, base):
    """The first report time (base, modulo a day) at or after t."""
    return t + (base - t) % _DAY


def report_due(last, base):
    """When the next daily report is due after one sent at last (0: never, due now):
    the first report time at least half a day later (a late retry or the first report
    after boot does not make a second report the same day)."""
    return at_or_after(last + _DAY // 2, base) if last else 0


def next_poll(t, base, expected=None):
    """When to ask about an open order again: at the first report time at least an hour
    from now and not before its expected delivery (one token for report and poll).

    After placing (no expected date yet) that is the next report time, to see it
    authorized; then the report time after the expected delivery; past it, daily."""
    if expected is None or expected < t + _HOUR:
        expected = t + _HOUR
    return at_or_after(expected, base)
