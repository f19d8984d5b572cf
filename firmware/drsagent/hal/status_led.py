# Status LED: the Wi-Fi state at a glance. On while connected, blinking while
# connecting (each call toggles it), off when offline. The board's pin is
# config.json board.status_led (boards/*/board.json lists each board's LED).


class StatusLed:
    def __init__(self, pin_number, active_low=False, machine=None):
        if machine is None:
            import machine  # board module: only imported on a board
        self.pin = machine.Pin(pin_number, machine.Pin.OUT)
        self.active_low = active_low
        self.lit = False
        self._set(False)

    def _set(self, lit):
        self.lit = lit
        self.pin.value(1 if lit != self.active_low else 0)

    def __call__(self, state):
        if state == "connecting":
            self._set(not self.lit)
        else:
            self._set(state == "connected")
