# HX711 24-bit load-cell ADC, bit-banged: channel A, gain 128 (25 SCK pulses per sample).
from drsagent.compat import const
from drsagent.hal.sampling import sleep_us, ticks_diff, ticks_ms

_PULSES = const(25)  # 24 data bits + 1 pulse selecting channel A / gain 128 next time
_READY_MS = const(500)  # at 10 SPS a sample is ready within 100 ms; 500 ms means no chip


class HX711:
    def __init__(self, dout, sck, samples=5, timeout_ms=_READY_MS, machine=None):
        if machine is None:
            import machine  # board module: only imported on a board
        self._m = machine
        self.dout = machine.Pin(dout, machine.Pin.IN)
        self.sck = machine.Pin(sck, machine.Pin.OUT)
        self.sck.value(0)
        self.samples = samples
        self.timeout_ms = timeout_ms

    def power_down(self):
        # SCK high for > 60 us puts the chip to sleep (saves ~1.5 mA between readings).
        self.sck.value(0)
        self.sck.value(1)
        sleep_us(80)

    def power_up(self):
        self.sck.value(0)

    def _wait_ready(self):
        t0 = ticks_ms()
        while self.dout.value():
            # ticks_diff, never a plain "-": ticks_ms wraps (every ~12.4 days on ESP32)
            # and a negative difference would wait for the next wrap.
            if ticks_diff(ticks_ms(), t0) > self.timeout_ms:
                return False  # DOUT never went low: disconnected or unpowered
        return True

    def _sample(self):
        if not self._wait_ready():
            return None
        sck = self.sck
        dout = self.dout
        v = 0
        # SCK must not stay high > 60 us or the chip powers down mid-read: no IRQs here.
        irq = self._m.disable_irq()
        try:
            for _ in range(_PULSES - 1):
                sck.value(1)
                sck.value(0)
                v = (v << 1) | dout.value()
            sck.value(1)
            sck.value(0)
        finally:
            self._m.enable_irq(irq)
        if v & 0x800000:  # two's complement, 24 bit
            v -= 0x1000000
        return v

    def read(self):
        """Average of `samples` conversions, or None when the chip does not answer."""
        self.power_up()
        total = 0
        n = 0
        try:
            for _ in range(self.samples):
                v = self._sample()
                if v is None:
                    return None
                total += v
                n += 1
        finally:
            self.power_down()
        return total / n if n else None


# The slot's "sensor" keys (config.py's table language): data and clock GPIOs, and
# how many conversions one reading averages.
SENSOR_KEYS = "dout i, sck i, samples c=5"


def make(config):
    sensor = config["sensor"]
    return HX711(sensor["dout"], sensor["sck"], samples=sensor["samples"]).read
