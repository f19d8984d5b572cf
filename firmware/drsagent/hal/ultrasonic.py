# HC-SR04-style ultrasonic distance sensor: a 10 us pulse on TRIG sends a ping, ECHO
# stays high for the sound's round trip. The raw reading is the distance in mm to the
# surface below the sensor (a fuller container reads less: sensor.empty > full).
# HC-SR04 modules need 5 V; their ECHO must go through a divider to 3.3 V (docs/hardware.md).
from drsagent.compat import const
from drsagent.hal.sampling import median, sleep_us

_TRIGGER_US = const(10)  # datasheet: at least 10 us high
_ECHO_TIMEOUT_US = const(30000)  # > the 23.3 ms round trip of the 4 m maximum range
_PING_GAP_MS = const(60)  # datasheet: 60 ms between pings, or the last echo is heard again
_MM_PER_10K_US = const(1716)  # sound at 20 C: 343.2 m/s, halved for the round trip
_MIN_MM = const(20)  # closer than 2 cm the module cannot tell the echo from the ping
_MAX_MM = const(4000)

# The slot's "sensor" keys (config.py's table language): the TRIG and ECHO GPIOs and
# how many pings one reading takes.
SENSOR_KEYS = "trig i, echo i, samples c=5"


def _sleep_ms(ms):
    sleep_us(ms * 1000)


class Ultrasonic:
    """trigger: an output pin; echo: an input pin; pulse_us: machine.time_pulse_us
    (pin, level, timeout) -> width in us, or < 0 on a timeout. sleep_ms waits
    between pings. read() returns the median distance in mm, or None."""

    def __init__(self, trigger, echo, pulse_us, samples, sleep_ms=_sleep_ms):
        self.trigger = trigger
        self.echo = echo
        self.pulse_us = pulse_us
        self.samples = samples
        self.sleep_ms = sleep_ms
        self._distances = []
        trigger.value(0)

    def ping_mm(self):
        """One ping: distance in mm, or None (no echo, or out of the module's range)."""
        trigger = self.trigger
        trigger.value(1)
        sleep_us(_TRIGGER_US)
        trigger.value(0)
        width = self.pulse_us(self.echo, 1, _ECHO_TIMEOUT_US)
        if width < 0:  # -1: the echo never started, -2: it never ended (unplugged)
            return None
        mm = width * _MM_PER_10K_US // 10000
        return mm if _MIN_MM <= mm <= _MAX_MM else None

    def read(self):
        """Median of `samples` pings; None unless most pings were heard."""
        distances = self._distances
        del distances[:]
        for i in range(self.samples):
            if i:
                self.sleep_ms(_PING_GAP_MS)
            mm = self.ping_mm()
            if mm is not None:
                distances.append(mm)
        return median(distances) if len(distances) * 2 > self.samples else None


def make(config):
    import machine  # board module: only imported on a board

    sensor = config["sensor"]
    return Ultrasonic(
        machine.Pin(sensor["trig"], machine.Pin.OUT),
        machine.Pin(sensor["echo"], machine.Pin.IN),
        machine.time_pulse_us,
        sensor["samples"],
    ).read
