"""Fakes at the bus and pin layer for the board drivers, in MicroPython-compatible
Python: the same fakes run under CPython (pytest) and the MicroPython unix binary.

A FakeTicks stands in for time.ticks_ms: every bus transaction advances it, so
driver timeouts run on virtual time (no wall-clock waits). FakeMachine, FakeNetwork
and FakeNtptime are the board modules `machine`, `network` and `ntptime`, installed
into sys.modules by `installed_modules`.
"""

import sys


class FakeTicks:
    """Milliseconds that only move when the fakes (or sleep_ms) move them."""

    def __init__(self, ms=0):
        self.ms = ms

    def ticks_ms(self):
        return self.ms

    def ticks_diff(self, a, b):
        return a - b

    def sleep_ms(self, ms):
        self.ms += ms

    def sleep(self, s):
        self.ms += int(s * 1000)


class Patch:
    """Set attributes of a module for a `with` block and restore them afterwards."""

    def __init__(self, target, **values):
        self.target = target
        self.values = values
        self.saved = {}

    def __enter__(self):
        for name, value in self.values.items():
            self.saved[name] = getattr(self.target, name)
            setattr(self.target, name, value)
        return self

    def __exit__(self, *exc):
        for name, value in self.saved.items():
            setattr(self.target, name, value)


# -- VL53L0X register model ------------------------------------------------------

MODEL_ID = 0xEE
STOP_VARIABLE = 0x3C  # what this chip keeps behind page 1, register 0x91


class FakeVL53L0X:
    """A VL53L0X at `address` on an I2C bus: register-level. distances is the list of
    ranges (mm) the next single-shot measurements give; None = the measurement never
    completes. unplugged: no ACK (OSError) for every transaction."""

    def __init__(self, distances, clock, address=0x29, model_id=MODEL_ID):
        self.distances = list(distances)
        self.clock = clock
        self.address = address
        self.page0 = bytearray(256)
        self.page1 = bytearray(256)
        self.page0[0xC0] = model_id
        self.page0[0x89] = 0x00
        self.page0[0x84] = 0x11
        self.page1[0x91] = STOP_VARIABLE
        self.unplugged = False
        self.calibrations = []  # sequence config of each reference calibration
        self.ranges_started = 0
        self.started_without_stop_variable = 0
        self.busy_reads = 0  # reads of SYSRANGE_START that still show the start bit
        self.pending = None  # range of the measurement in progress

    def _page(self):
        return self.page1 if self.page0[0xFF] == 1 else self.page0

    def _transaction(self, address):
        self.clock.ms += 1
        if self.unplugged or address != self.address:
            raise OSError(19)  # ENODEV: nobody acknowledged the address

    def readfrom_mem(self, address, register, n):
        self._transaction(address)
        page = self._page()
        if page is self.page0 and register == 0x00:
            if self.busy_reads:
                self.busy_reads -= 1
                return bytes([1])
            return bytes([0])
        return bytes(page[register : register + n])

    def writeto_mem(self, address, register, data):
        self._transaction(address)
        if register == 0xFF:  # the page select register is on every page
            self.page0[0xFF] = data[0]
            return
        page = self._page()
        for i in range(len(data)):
            page[register + i] = data[i]
        if page is not self.page0:
            return
        value = data[0]
        if register == 0x0B and value & 1:
            self.page0[0x13] = 0  # interrupt cleared
        elif register == 0x00 and value & 1:
            self._start(value)

    def _start(self, value):
        sequence = self.page0[0x01]
        if value & 0x40 or sequence in (0x01, 0x02):  # a reference calibration
            self.calibrations.append(sequence)
            self.page0[0x13] = 0x07
            return
        self.ranges_started += 1
        if self.page1[0x91] != STOP_VARIABLE:
            self.started_without_stop_variable += 1
        self.busy_reads = 1
        mm = self.distances.pop(0) if self.distances else None
        if mm is None:
            return  # never completes: the interrupt status stays 0
        self.page0[0x1E] = (mm >> 8) & 0xFF
        self.page0[0x1F] = mm & 0xFF
        self.page0[0x13] = 0x04  # new sample ready


# -- HC-SR04 pulse timing ----------------------------------------------------------

US_PER_MM = 2 / 0.3432  # round trip of sound at 20 C (343.2 m/s)


class FakePin:
    def __init__(self, level=0, on_change=None):
        self.level = level
        self.on_change = on_change
        self.handler = None

    def value(self, v=None):
        if v is None:
            return self.level
        self.level = v
        if self.on_change:
            self.on_change(v)
        return None

    def irq(self, handler=None, trigger=None):
        self.handler = handler


class FakeSonar:
    """An HC-SR04: a rising then falling TRIG sends a ping; time_pulse_us on ECHO
    returns the round trip of the next scripted distance (mm), -1 for None (no echo)
    or -2 for "stuck" (ECHO never falls). A ping sooner than 60 ms after the last
    one hears the last ping's echo again (the ghost the datasheet warns of)."""

    GHOST_MM = 150

    def __init__(self, distances, clock):
        self.distances = list(distances)
        self.clock = clock
        self.trigger = FakePin(on_change=self._trigger)
        self.echo = FakePin()
        self.armed = False
        self.was_high = False
        self.pings = []  # clock.ms of each ping
        self.ghosts = 0

    def _trigger(self, level):
        if level == 1:
            self.was_high = True
        elif self.was_high:
            self.was_high = False
            self.armed = True

    def pulse_us(self, pin, level, timeout_us):
        assert pin is self.echo and level == 1, "time_pulse_us on the ECHO pin, high pulse"
        if not self.armed:
            return -1  # no ping sent: nothing comes back
        self.armed = False
        now = self.clock.ms
        ghost = bool(self.pings) and now - self.pings[-1] < 60
        self.pings.append(now)
        mm = self.distances.pop(0) if self.distances else None
        if ghost:
            self.ghosts += 1
            mm = self.GHOST_MM
        if mm is None:
            return -1
        if mm == "stuck":
            return -2
        width = int(mm * US_PER_MM)
        return width if width <= timeout_us else -2


# -- ADC ------------------------------------------------------------------------------


class FakeADC:
    """read_u16 returns `values` in turn (the last one repeats)."""

    def __init__(self, values):
        self.values = list(values)
        self.reads = 0
        self.attenuation = None

    def read_u16(self):
        self.reads += 1
        return self.values.pop(0) if len(self.values) > 1 else self.values[0]

    def atten(self, value):
        self.attenuation = value


# -- machine, network, ntptime -------------------------------------------------------


class _PinFactory:
    """machine.Pin: one FakePin per number, its constants as attributes."""

    IN = 0
    OUT = 1
    PULL_UP = 2
    IRQ_FALLING = 2
    IRQ_RISING = 1

    def __init__(self, machine):
        self.machine = machine

    def __call__(self, number, mode=None, pull=None, value=None):
        machine = self.machine
        pin = machine.pins.get(number)
        if pin is None:
            pin = machine.pins[number] = FakePin(1 if pull == self.PULL_UP else 0)
        machine.made.append(("Pin", number, mode, pull))
        if value is not None:
            pin.level = value
        return pin


class _ADCFactory:
    ATTN_11DB = 3

    def __init__(self, machine):
        self.machine = machine

    def __call__(self, pin):
        self.machine.made.append(("ADC",))
        return self.machine.adc


class FakeMachine:
    """The parts of `machine` the board drivers use. Pins are FakePin; `made` lists
    what was constructed, so a test can check the pins a driver asked for."""

    DEEPSLEEP_RESET = 4
    PWRON_RESET = 1

    def __init__(self, clock=None):
        self.clock = clock or FakeTicks()
        self.made = []
        self.pins = {}
        self.adc = FakeADC([30000])
        self.i2c_bus = None
        self.rtc_memory = b""
        self.cause = self.PWRON_RESET
        self.deepsleep_ms = None
        self.watchdog = None
        machine = self
        self.Pin = _PinFactory(self)
        self.ADC = _ADCFactory(self)

        class WDT:
            def __init__(self, id=0, timeout=5000):
                self.timeout = timeout
                self.feeds = 0
                machine.watchdog = self

            def feed(self):
                self.feeds += 1

        class RTC:
            def memory(self, data=None):
                if data is None:
                    return machine.rtc_memory
                machine.rtc_memory = bytes(data)

        self.WDT = WDT
        self.RTC = RTC

    def I2C(self, bus, scl=None, sda=None, freq=None):  # noqa: N802 - machine.I2C
        self.made.append(("I2C", bus, freq))
        return self.i2c_bus

    def time_pulse_us(self, pin, level, timeout_us):
        return -1

    def reset_cause(self):
        return self.cause

    def deepsleep(self, ms):
        self.deepsleep_ms = ms

    def disable_irq(self):
        return 0

    def enable_irq(self, state):
        pass


class FakeWLAN:
    """A station interface: connect() succeeds after `attempts_needed` calls (each
    attempt takes `connect_ms` of the fake clock), or never with a wrong password."""

    def __init__(self, network):
        self.network = network

    def active(self, on=None):
        if on is not None:
            self.network.active = on
        return self.network.active

    def isconnected(self):
        net = self.network
        if net.connecting_since is not None and net.clock.ms - net.connecting_since >= 500:
            net.connecting_since = None
            net.connected = net.attempts >= net.attempts_needed
        return net.connected

    def connect(self, ssid, password):
        net = self.network
        net.attempts += 1
        net.ssids.append(ssid)
        net.connecting_since = net.clock.ms

    def disconnect(self):
        self.network.connecting_since = None
        self.network.connected = False

    def status(self):
        return self.network.STAT_WRONG_PASSWORD if self.network.wrong_password else 0


class FakeNetwork:
    STA_IF = 0
    STAT_WRONG_PASSWORD = 202

    def __init__(self, clock, attempts_needed=1, wrong_password=False):
        self.clock = clock
        self.attempts_needed = attempts_needed
        self.wrong_password = wrong_password
        self.attempts = 0
        self.ssids = []
        self.active = False
        self.connected = False
        self.connecting_since = None

    def WLAN(self, interface):  # noqa: N802 - network.WLAN
        return FakeWLAN(self)


class FakeNtptime:
    """ntptime: settime() fails `failures` times, then sets `clock_holder.t`."""

    def __init__(self, failures=0, on_set=None):
        self.failures = failures
        self.calls = 0
        self.on_set = on_set
        self.host = "pool.ntp.org"

    def settime(self):
        self.calls += 1
        if self.calls <= self.failures:
            raise OSError(110)  # ETIMEDOUT
        if self.on_set:
            self.on_set()


class installed_modules:  # noqa: N801 - used like a function in `with`
    """Put fake board modules into sys.modules for a `with` block."""

    def __init__(self, **modules):
        self.modules = modules
        self.saved = {}

    def __enter__(self):
        for name, module in self.modules.items():
            self.saved[name] = sys.modules.get(name)
            sys.modules[name] = module
        return self

    def __exit__(self, *exc):
        for name, module in self.saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
