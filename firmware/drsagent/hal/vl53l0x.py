# VL53L0X time-of-flight distance sensor (ST) on I2C: single-shot ranges in mm.
# The raw reading is the distance from the sensor to the surface (the fill level of a
# container seen from its lid): a fuller container reads less, so sensor.empty > full.
#
# The init follows ST's API as ported by Pololu, minus three parts: the tuning table,
# the SPAD selection and the timing budget. Kept: 2V8 I/O, the stop variable, the
# limit checks and signal rate limit, the interrupt, the step sequence and the VHV
# and phase reference calibrations. The chip then ranges with its power-on defaults,
# less accurate at long range; a level only needs readings that move between the
# calibrated empty and full distances of a container (3-120 cm).
from drsagent.compat import const
from drsagent.hal.sampling import median, ticks_diff, ticks_ms

_SYSRANGE_START = const(0x00)
_SYSTEM_SEQUENCE_CONFIG = const(0x01)
_SYSTEM_INTERRUPT_CONFIG_GPIO = const(0x0A)
_SYSTEM_INTERRUPT_CLEAR = const(0x0B)
_RESULT_INTERRUPT_STATUS = const(0x13)
_RESULT_RANGE_MM = const(0x1E)  # RESULT_RANGE_STATUS (0x14) + 10: final range, big-endian
_GPIO_HV_MUX_ACTIVE_HIGH = const(0x84)
_I2C_MODE = const(0x88)
_MSRC_CONFIG_CONTROL = const(0x60)
_FINAL_RANGE_MIN_COUNT_RATE = const(0x44)  # signal rate limit, MCPS in 9.7 fixed point
_SIGNAL_RATE_LIMIT = const(32)  # 0.25 MCPS, ST's default
_VHV_CONFIG_PAD_SCL_SDA_EXTSUP_HV = const(0x89)
_POWER_MANAGEMENT = const(0x80)
_PAGE_SELECT = const(0xFF)
_STOP_VARIABLE = const(0x91)  # on page 1 with power management open
_IDENTIFICATION_MODEL_ID = const(0xC0)
_MODEL_ID = const(0xEE)
_SEQUENCE_DEFAULT = const(0xE8)  # DSS, pre-range and final-range steps
_OUT_OF_RANGE_MM = const(8190)  # 8190/8191: no target within range
_TIMEOUT_MS = const(100)  # a single-shot range takes ~33 ms with the default budget


# The slot's "sensor" keys (config.py's table language): the I2C pins and bus, the
# chip's address (0x29 unless re-addressed) and how many shots one reading takes.
SENSOR_KEYS = "sda i, scl i, bus i=0, address c=41, samples c=3"


class VL53L0X:
    """One chip on an I2C bus object (machine.I2C or anything with readfrom_mem and
    writeto_mem). read() returns the median distance in mm or None."""

    def __init__(self, i2c, address, samples):
        self.i2c = i2c
        self.address = address
        self.samples = samples
        self.stop_variable = None  # read at init; None: not initialised yet
        self._byte = bytearray(1)
        self._ranges = []

    def _write(self, register, value):
        self._byte[0] = value
        self.i2c.writeto_mem(self.address, register, self._byte)

    def _read(self, register):
        return self.i2c.readfrom_mem(self.address, register, 1)[0]

    def _with_page1(self, register, value=None):
        """Write (or read, value None) a register behind page 1 with power
        management open, as ST's API does for the stop variable."""
        self._write(_POWER_MANAGEMENT, 0x01)
        self._write(_PAGE_SELECT, 0x01)
        self._write(_SYSRANGE_START, 0x00)
        if value is None:
            value = self._read(register)
        else:
            self._write(register, value)
        self._write(_SYSRANGE_START, 0x01)
        self._write(_PAGE_SELECT, 0x00)
        self._write(_POWER_MANAGEMENT, 0x00)
        return value

    def _wait_interrupt(self):
        t0 = ticks_ms()
        while not self._read(_RESULT_INTERRUPT_STATUS) & 0x07:
            if ticks_diff(ticks_ms(), t0) > _TIMEOUT_MS:
                return False
        return True

    def _reference_calibration(self, step, vhv_init):
        self._write(_SYSTEM_SEQUENCE_CONFIG, step)
        self._write(_SYSRANGE_START, 0x01 | vhv_init)
        ok = self._wait_interrupt()
        self._write(_SYSTEM_INTERRUPT_CLEAR, 0x01)
        self._write(_SYSRANGE_START, 0x00)
        return ok

    def init(self):
        """Check the model id and set the chip up; False when it is not a VL53L0X
        or does not finish its reference calibrations."""
        if self._read(_IDENTIFICATION_MODEL_ID) != _MODEL_ID:
            return False
        # 2.8 V I/O levels (the breakout boards have a regulator), standard I2C mode
        self._write(
            _VHV_CONFIG_PAD_SCL_SDA_EXTSUP_HV, self._read(_VHV_CONFIG_PAD_SCL_SDA_EXTSUP_HV) | 1
        )
        self._write(_I2C_MODE, 0x00)
        stop_variable = self._with_page1(_STOP_VARIABLE)
        # no MSRC and pre-range limit checks; final-range signal rate limit 0.25 MCPS
        self._write(_MSRC_CONFIG_CONTROL, self._read(_MSRC_CONFIG_CONTROL) | 0x12)
        self.i2c.writeto_mem(
            self.address, _FINAL_RANGE_MIN_COUNT_RATE, bytes((0, _SIGNAL_RATE_LIMIT))
        )
        # interrupt on "new sample ready", active low
        self._write(_SYSTEM_INTERRUPT_CONFIG_GPIO, 0x04)
        self._write(_GPIO_HV_MUX_ACTIVE_HIGH, self._read(_GPIO_HV_MUX_ACTIVE_HIGH) & ~0x10)
        self._write(_SYSTEM_INTERRUPT_CLEAR, 0x01)
        if not (self._reference_calibration(0x01, 0x40) and self._reference_calibration(0x02, 0)):
            return False
        self._write(_SYSTEM_SEQUENCE_CONFIG, _SEQUENCE_DEFAULT)
        self.stop_variable = stop_variable
        return True

    def range_mm(self):
        """One single-shot range in mm, or None (timeout, nothing in range)."""
        self._with_page1(_STOP_VARIABLE, self.stop_variable)
        self._write(_SYSRANGE_START, 0x01)
        t0 = ticks_ms()
        while self._read(_SYSRANGE_START) & 0x01:  # the start bit clears when it began
            if ticks_diff(ticks_ms(), t0) > _TIMEOUT_MS:
                return None
        if not self._wait_interrupt():
            return None
        data = self.i2c.readfrom_mem(self.address, _RESULT_RANGE_MM, 2)
        self._write(_SYSTEM_INTERRUPT_CLEAR, 0x01)
        mm = (data[0] << 8) | data[1]
        return None if mm >= _OUT_OF_RANGE_MM else mm

    def read(self):
        """Median of `samples` ranges in mm, or None when the chip does not answer
        (unplugged: the next read tries the init again) or nothing is in range."""
        try:
            if self.stop_variable is None and not self.init():
                return None
            ranges = self._ranges
            del ranges[:]
            for _ in range(self.samples):
                mm = self.range_mm()
                if mm is not None:
                    ranges.append(mm)
        except OSError:  # no ACK on the bus: the chip is gone; init again next time
            self.stop_variable = None
            return None
        # a majority of good ranges, else the surface is out of sight
        return median(ranges) if len(ranges) * 2 > self.samples else None


def make(config):
    import machine  # board module: only imported on a board

    sensor = config["sensor"]
    i2c = machine.I2C(
        sensor["bus"], scl=machine.Pin(sensor["scl"]), sda=machine.Pin(sensor["sda"]), freq=400000
    )
    return VL53L0X(i2c, sensor["address"], sensor["samples"]).read
