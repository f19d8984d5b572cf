# Deep sleep between passes, for battery devices: the chip powers down, keeps only
# the RTC, and boots afresh on the timer. What the loop needs to carry on (when the
# next pass is due, when NTP last ran) is kept in RTC memory, which survives deep
# sleep (not a power cut), or in schedule.json on flash where there is no RTC memory.
# A schedule is honoured only after a deep-sleep wake: after a power-on or a crash the
# loop starts at once.
import json

_FILE = "schedule.json"


def _rtc(machine):
    rtc = getattr(machine, "RTC", None)
    if rtc is None:
        return None
    rtc = rtc()
    return rtc if hasattr(rtc, "memory") else None


def _machine():
    import machine  # board module: only imported on a board

    return machine


def available(machine=None):
    """True on a port that can deep sleep and tell a deep-sleep wake from a power-on."""
    if machine is None:
        try:
            machine = _machine()
        except ImportError:
            return False
    return hasattr(machine, "deepsleep") and hasattr(machine, "reset_cause")


def save(schedule, store, machine=None):
    """Keep schedule (a small dict) for the next wake."""
    rtc = _rtc(machine or _machine())
    if rtc is not None:
        rtc.memory(json.dumps(schedule).encode())
    else:
        store.write_json(_FILE, schedule)


def resume(store, machine=None):
    """The schedule saved before the deep sleep we woke from, or None (power-on,
    reset, or nothing saved)."""
    machine = machine or _machine()
    if machine.reset_cause() != getattr(machine, "DEEPSLEEP_RESET", None):
        return None
    rtc = _rtc(machine)
    try:
        if rtc is not None:
            data = rtc.memory()
            schedule = json.loads(data) if data else None
        else:
            schedule = store.read_json(_FILE)
    except (OSError, ValueError):
        return None
    return schedule if isinstance(schedule, dict) else None


def deep_sleep(seconds, machine=None):
    """Power down for `seconds`; on a board this does not return (the wake is a boot)."""
    (machine or _machine()).deepsleep(int(seconds * 1000))
