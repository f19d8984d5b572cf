"""``network`` for the virtual board (MicroPython unix port, never deployed to a device).

The access points in range come from ``DRSCTL_VBOARD_WIFI`` (JSON ``{ssid: password}``,
set by ``drsctl virtual-board --wifi``); connecting succeeds at once with the right
password, like a board next to its router. The host's own networking carries traffic.
"""

import json
import os

STA_IF = 0
AP_IF = 1
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_WRONG_PASSWORD = 202
STAT_NO_AP_FOUND = 201
AUTH_OPEN = 0
AUTH_WPA2_PSK = 3

_state = {"active": False, "ssid": None, "status": STAT_IDLE}


def _access_points():
    try:
        points = json.loads(os.getenv("DRSCTL_VBOARD_WIFI") or "{}")
    except ValueError:
        return {}
    return points if isinstance(points, dict) else {}


class WLAN:
    """The station interface of the virtual board."""

    def __init__(self, interface=STA_IF):
        self.interface = interface

    def active(self, on=None):
        """Switch the radio on/off, or tell whether it is on."""
        if on is None:
            return _state["active"]
        _state["active"] = bool(on)
        return None

    def connect(self, ssid, password=""):
        """Join ``ssid``: succeeds at once when it is in range and the password matches."""
        points = _access_points()
        if ssid not in points:
            _state.update(ssid=None, status=STAT_NO_AP_FOUND)
        elif points[ssid] != password:
            _state.update(ssid=None, status=STAT_WRONG_PASSWORD)
        else:
            _state.update(ssid=ssid, status=STAT_GOT_IP)

    def disconnect(self):
        """Leave the network."""
        _state.update(ssid=None, status=STAT_IDLE)

    def isconnected(self):
        """True once connected with the right password."""
        return _state["status"] == STAT_GOT_IP

    def status(self, param=None):
        """The connection status code (STAT_*), or the RSSI for ``status('rssi')``."""
        return -48 if param == "rssi" else _state["status"]

    def scan(self):
        """[(ssid, bssid, channel, rssi, security, hidden)] of the access points."""
        found = []
        for i, (ssid, password) in enumerate(sorted(_access_points().items())):
            security = AUTH_WPA2_PSK if password else AUTH_OPEN
            found.append((ssid.encode(), bytes(6), 1 + i, -40 - 7 * i, security, False))
        return found

    def ifconfig(self):
        """Loopback addresses: the host does the networking."""
        return ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1")

    def config(self, name):
        """Only ``mac`` is known."""
        if name == "mac":
            return b"\x02vbrd0"
        raise ValueError("unknown config param")
