# Wi-Fi station connect for boards. Credentials come from secrets.json and are never printed.
# `network` is a board module: importing this driver raises ImportError on a port
# without Wi-Fi (the unix port, whose host has networking), which is how device.py
# tells a board from the desktop without importing board modules itself.
import time

import network


def connect(secrets, timeout_s=20):
    """Connect (or keep) the STA interface; return True when connected."""
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    if wlan.isconnected():
        return True
    w = (secrets or {}).get("wifi") or {}
    ssid = w.get("ssid")
    if not ssid:
        return False
    wlan.connect(ssid, w.get("password") or "")
    t0 = time.ticks_ms()
    while not wlan.isconnected():
        if time.ticks_diff(time.ticks_ms(), t0) > timeout_s * 1000:
            wlan.disconnect()  # stop the driver retrying in the background
            return False
        time.sleep_ms(200)
    return True


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
