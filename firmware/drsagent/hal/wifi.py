# Wi-Fi station connect for boards. Credentials come from secrets.json and are never printed.
import time


def connect(secrets, timeout_s=20):
    """Connect (or keep) the STA interface; return True when connected."""
    import network  # board module: only imported on a board

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
    import network

    return network.WLAN(network.STA_IF).isconnected()
