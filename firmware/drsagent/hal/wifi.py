# Wi-Fi station connect for boards. Credentials come from secrets.json and are never printed.
# `network` is a board module: importing this driver raises ImportError on a port
# without Wi-Fi (the unix port, whose host has networking), which is how device.py
# tells a board from the desktop without importing board modules itself.
#
# One attempt per call: the device loop calls again after retry_in_s(), a capped,
# jittered backoff, so a router that is down is not hammered and a fleet that lost
# Wi-Fi together does not come back in step. status(state) is the status-LED hook:
# "connecting", "connected" or "offline".
import time

import network

from drsagent import log
from drsagent.backoff import delay
from drsagent.compat import const

_RETRY_BASE_S = const(10)
_RETRY_CAP_S = const(600)  # at most 10 minutes between attempts
_POLL_MS = const(200)

_failures = 0  # failed attempts in a row (RAM: a reboot starts afresh)
_auth_reported = False  # "wrong password" told once, not every attempt


def _report(status, state):
    if status is not None:
        status(state)


def connect(secrets, timeout_s=20, status=None):
    """Connect (or keep) the STA interface; return True when connected."""
    global _failures, _auth_reported
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    if wlan.isconnected():
        _failures = 0
        _report(status, "connected")
        return True
    w = (secrets or {}).get("wifi") or {}
    ssid = w.get("ssid")
    if not ssid:
        _report(status, "offline")
        return False
    _report(status, "connecting")
    wlan.connect(ssid, w.get("password") or "")
    t0 = time.ticks_ms()
    while not wlan.isconnected():
        if time.ticks_diff(time.ticks_ms(), t0) > timeout_s * 1000:
            wrong_password = wlan.status() == getattr(network, "STAT_WRONG_PASSWORD", -1)
            wlan.disconnect()  # stop the driver retrying in the background
            _failures += 1
            if wrong_password and not _auth_reported:
                _auth_reported = True
                log.error("wifi: authentication failed for %r: check the password" % ssid)
            _report(status, "offline")
            return False
        _report(status, "connecting")  # the LED blinks while we wait
        time.sleep_ms(_POLL_MS)
    _failures = 0
    _auth_reported = False
    _report(status, "connected")
    return True


def retry_in_s():
    """Seconds until the next attempt is worth it (0 while connected)."""
    return delay(_failures - 1, _RETRY_BASE_S, _RETRY_CAP_S) if _failures else 0


def is_connected():
    return network.WLAN(network.STA_IF).isconnected()


def disconnect():
    """Leave the current network (before trying new settings from the setup console)."""
    network.WLAN(network.STA_IF).disconnect()


def scan():
    """[(ssid, rssi, secured)] of the networks in range, strongest first."""
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    found = [(n[0].decode(), n[3], n[4] != 0) for n in wlan.scan() if n[0]]
    found.sort(key=lambda n: -n[1])
    return found
