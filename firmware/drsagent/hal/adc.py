# Analog level: a voltage on an ADC pin that follows the fill level (a resistive float
# sender or a pressure/level transmitter in a divider, or a capacitive probe). The raw
# reading is the mean of `samples` conversions scaled to 0..65535 (read_u16, the same
# scale on every port); calibration maps it with sensor.empty/full.
from drsagent.compat import const

_RAIL_LOW = const(0)
_RAIL_HIGH = const(65535)

# The slot's "sensor" keys (config.py's table language): the ADC GPIO and how many
# conversions one reading averages.
SENSOR_KEYS = "pin i, samples c=16"


class AnalogLevel:
    """adc: machine.ADC (anything with read_u16). read() returns the mean, or None
    when every sample sits on a rail: a broken wire or a short, never a level (a
    divider is sized so that empty and full stay off the rails)."""

    def __init__(self, adc, samples):
        self.adc = adc
        self.samples = samples

    def read(self):
        total = 0
        on_rail = 0
        for _ in range(self.samples):
            v = self.adc.read_u16()
            total += v
            if v == _RAIL_LOW or v == _RAIL_HIGH:
                on_rail += 1
        if on_rail == self.samples:
            return None
        return total / self.samples


def make(config):
    import machine  # board module: only imported on a board

    sensor = config["sensor"]
    adc = machine.ADC(machine.Pin(sensor["pin"]))
    try:
        adc.atten(machine.ADC.ATTN_11DB)  # ESP32 family: the full 0..3.1 V range
    except AttributeError:  # ports without attenuation
        pass
    return AnalogLevel(adc, sensor["samples"]).read
