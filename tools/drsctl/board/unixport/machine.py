"""``machine`` for the virtual board (MicroPython unix port, never deployed to a device).

What the agent's drivers and mpremote use: reset, unique_id, IRQ masking and pins.
Pins can carry simulated chips from the bench file (``DRSCTL_BENCH``, written by the
desktop, re-read at every conversion), so a sensor driver runs its real code path:
``{"hx711": [{"dout": 16, "sck": 17, "raw": 12000}]}``. A reset is asked of
``drsctl virtual-board`` over its control pipe, which restarts the process like a
board restarting (a unix process cannot end itself from the raw REPL).
"""

import json
import os
import time

_CONTROL_FD = os.getenv("DRSCTL_VBOARD_CONTROL")
_BENCH = os.getenv("DRSCTL_BENCH")
_HX711_BITS = 24


def _tell_board(message):
    """Send one control line to virtual-board (if it runs us) and wait to be restarted."""
    if not _CONTROL_FD:
        raise SystemExit(0)
    with open("/dev/fd/" + _CONTROL_FD, "w") as pipe:
        pipe.write(message + "\n")
    while True:
        time.sleep(1)


def reset():
    """Hard reset: virtual-board restarts the process and runs main.py."""
    _tell_board("reset")


def soft_reset():
    """Same as reset() on the virtual board."""
    _tell_board("reset")


def deepsleep(ms=0):
    """Sleep, then boot again (virtual-board waits ``ms`` before the restart)."""
    _tell_board("deepsleep " + str(int(ms)))


def unique_id():
    """A fixed 6-byte id (a board's MAC-derived id)."""
    return b"vboard"


def freq():
    """CPU frequency in Hz, as an ESP32 reports it."""
    return 240000000


def disable_irq():
    """No interrupts to mask on the unix port."""
    return 0


def enable_irq(state):
    """No interrupts to unmask on the unix port."""


def _bench_value(kind, dout):
    try:
        with open(_BENCH) as f:
            chips = json.load(f).get(kind) or []
    except (OSError, ValueError, TypeError):
        return None
    for chip in chips:
        if chip.get("dout") == dout:
            return chip.get("raw")
    return None


class _HX711:
    """A simulated HX711: DOUT low when a value is on the bench, 24 bits on SCK."""

    def __init__(self, dout):
        self.dout = dout
        self.bits = None
        self.shifted = 0

    def output(self):
        if self.bits is None:  # idle: ready (DOUT low) once the bench has a value
            raw = _bench_value("hx711", self.dout)
            if raw is None:
                return 1
            self.bits = int(raw) & 0xFFFFFF
            self.shifted = 0
        if self.shifted == 0:
            return 0
        return (self.bits >> (_HX711_BITS - self.shifted)) & 1

    def clock(self):
        if self.bits is None:  # SCK high while idle: power down, nothing to shift
            return
        self.shifted += 1
        if self.shifted > _HX711_BITS:  # the 25th pulse: gain 128, conversion done
            self.bits = None


_CHIPS = {}  # pin number -> simulated chip on it (DOUT and SCK both map to the chip)


def _chip(pin_id):
    chip = _CHIPS.get(pin_id)
    if chip is None:
        try:
            with open(_BENCH) as f:
                bench = json.load(f)
        except (OSError, ValueError, TypeError):
            return None
        for spec in bench.get("hx711") or []:
            if pin_id in (spec.get("dout"), spec.get("sck")):
                chip = _HX711(spec.get("dout"))
                _CHIPS[spec.get("dout")] = chip
                _CHIPS[spec.get("sck")] = chip
    return chip


class Pin:
    """A GPIO pin; input pins read the simulated chip wired to them, else 0."""

    IN = 0
    OUT = 1
    PULL_UP = 1
    PULL_DOWN = 2

    def __init__(self, pin_id, mode=-1, pull=-1, value=None):
        self.pin_id = pin_id
        self.level = value or 0

    def value(self, level=None):
        """Read the pin, or drive it (a rising edge clocks a chip on it)."""
        chip = _chip(self.pin_id)
        if level is None:
            if chip is not None and chip.dout == self.pin_id:
                return chip.output()
            return self.level
        if level and not self.level and chip is not None and chip.dout != self.pin_id:
            chip.clock()
        self.level = 1 if level else 0
        return None

    def __call__(self, level=None):
        """``pin()`` reads, ``pin(1)`` drives, as on a board."""
        return self.value(level)


class WDT:
    """Watchdog: nothing resets the unix process; feeding it is a no-op."""

    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout

    def feed(self):
        """Nothing to feed on the unix port."""
