"""Sensor driver scenarios, in MicroPython-compatible Python: test_sensor_drivers.py
runs every check_* function under CPython and under the MicroPython unix binary.

The drivers are the real firmware modules; only the bus, the pins and the tick
counter below them are fakes (fakehw). The flash root is the current directory.
"""

from fakehw import (
    STOP_VARIABLE,
    FakeADC,
    FakeMachine,
    FakeSonar,
    FakeTicks,
    FakeVL53L0X,
    Patch,
    installed_modules,
)


def validated(slot):
    """The slot as the boot sees it: checked by config.py, its defaults filled in."""
    from drsagent.config import validate_config

    slot["sensor"].setdefault("empty", 1000)
    slot["sensor"].setdefault("full", 10)
    config = {
        "device": {"serial": "TEST-1"},
        "endpoints": {"drs": "http://127.0.0.1:1", "lwa": "http://127.0.0.1:1/auth/o2/token"},
        "allow_plain_http": True,
        "slots": [slot],
    }
    return validate_config(config)["slots"][0]


def _vl53l0x(distances, samples=3):
    from drsagent.hal import vl53l0x

    clock = FakeTicks()
    chip = FakeVL53L0X(distances, clock)
    patch = Patch(vl53l0x, ticks_ms=clock.ticks_ms, ticks_diff=clock.ticks_diff)
    return vl53l0x.VL53L0X(chip, 0x29, samples), chip, patch


def check_vl53l0x_init_and_median():
    sensor, chip, patch = _vl53l0x([412, 398, 405])
    with patch:
        assert sensor.read() == 405
    assert sensor.stop_variable == STOP_VARIABLE
    assert chip.calibrations == [0x01, 0x02], chip.calibrations  # VHV, then phase
    assert chip.page0[0x01] == 0xE8  # default sequence restored after calibration
    assert chip.page0[0x89] & 1 == 1  # 2V8 I/O
    assert chip.page0[0x60] & 0x12 == 0x12  # MSRC / pre-range limit checks off
    assert bytes(chip.page0[0x44:0x46]) == bytes((0, 32))  # 0.25 MCPS signal rate limit
    assert chip.ranges_started == 3
    assert chip.started_without_stop_variable == 0
    assert chip.page0[0x13] == 0  # every interrupt cleared


def check_vl53l0x_out_of_range_and_timeouts():
    # 8190 = nothing in range; None = never completes (timeout on virtual time)
    sensor, chip, patch = _vl53l0x([8190, None, 300])
    with patch:
        assert sensor.read() is None  # one good range of three is no majority
    sensor, chip, patch = _vl53l0x([8190, 300, 310])
    with patch:
        assert sensor.read() == 305
    sensor, chip, patch = _vl53l0x([None, None, None])
    with patch:
        t0 = chip.clock.ms
        assert sensor.read() is None
        assert chip.clock.ms - t0 < 1000  # gave up after ~100 ms per range, not forever


def check_vl53l0x_unplugged_and_wrong_chip():
    sensor, chip, patch = _vl53l0x([500, 500, 500])
    chip.unplugged = True
    with patch:
        assert sensor.read() is None
        assert sensor.stop_variable is None
        chip.unplugged = False  # plugged back in: the next read initialises again
        assert sensor.read() == 500
    sensor, chip, patch = _vl53l0x([500])
    chip.page0[0xC0] = 0x11  # another chip at 0x29
    with patch:
        assert sensor.read() is None
    assert chip.ranges_started == 0
    sensor, chip, patch = _vl53l0x([500, 500, 500])
    sensor.address = 0x30  # nothing answers there
    with patch:
        assert sensor.read() is None


def check_vl53l0x_make_from_config():
    from drsagent.boot import make_sensor

    machine = FakeMachine()
    machine.i2c_bus = FakeVL53L0X([250, 250, 250], machine.clock)
    slot = {"id": "beans", "sensor": {"driver": "vl53l0x", "sda": 21, "scl": 22, "bus": 1}}
    from drsagent.hal import vl53l0x

    with installed_modules(machine=machine):
        with Patch(vl53l0x, ticks_ms=machine.clock.ticks_ms):
            read = make_sensor(validated(slot))
            assert read() == 250
    assert ("I2C", 1, 400000) in machine.made
    assert ("Pin", 21, None, None) in machine.made and ("Pin", 22, None, None) in machine.made


def _sonar(distances, samples=5):
    from drsagent.hal.ultrasonic import Ultrasonic

    clock = FakeTicks()
    sonar = FakeSonar(distances, clock)
    return Ultrasonic(sonar.trigger, sonar.echo, sonar.pulse_us, samples, clock.sleep_ms), sonar


def check_ultrasonic_pulse_timing():
    sensor, sonar = _sonar([800, 805, 2000, 795, 802])  # one outlier (a splash)
    assert abs(sensor.read() - 802) <= 1
    assert sonar.ghosts == 0  # 60 ms between pings
    gaps = [sonar.pings[i + 1] - sonar.pings[i] for i in range(len(sonar.pings) - 1)]
    assert gaps == [60, 60, 60, 60], gaps
    assert sonar.trigger.level == 0  # TRIG left low


def check_ultrasonic_range_limits_and_no_echo():
    sensor, sonar = _sonar([10, 5000, None, "stuck", 700])
    assert sensor.read() is None  # one good ping of five
    sensor, sonar = _sonar([None, None, None, None, None])
    assert sensor.read() is None
    sensor, sonar = _sonar([None, 1000, 1000, 1001, "stuck"])
    assert abs(sensor.read() - 1000) <= 1


def check_ultrasonic_make_from_config():
    from drsagent.boot import make_sensor

    machine = FakeMachine()
    slot = {"id": "salt", "sensor": {"driver": "ultrasonic", "trig": 5, "echo": 18}}
    with installed_modules(machine=machine):
        read = make_sensor(validated(slot))
        assert read() is None  # FakeMachine.time_pulse_us: no echo ever
    assert ("Pin", 5, 1, None) in machine.made  # TRIG an output
    assert ("Pin", 18, 0, None) in machine.made  # ECHO an input


def check_adc_mean_and_rails():
    from drsagent.hal.adc import AnalogLevel

    adc = FakeADC([1000, 2000, 3000, 4000])
    assert AnalogLevel(adc, 4).read() == 2500
    assert adc.reads == 4
    assert AnalogLevel(FakeADC([0]), 8).read() is None  # shorted / open to ground
    assert AnalogLevel(FakeADC([65535]), 8).read() is None  # open to the supply
    assert AnalogLevel(FakeADC([65535, 60000]), 2).read() == 62767.5  # one on the rail


def check_adc_make_sets_attenuation():
    from drsagent.boot import make_sensor

    machine = FakeMachine()
    machine.adc = FakeADC([12000, 12002])
    slot = {"id": "oil", "sensor": {"driver": "adc", "pin": 34, "samples": 2}}
    with installed_modules(machine=machine):
        assert make_sensor(validated(slot))() == 12001
    assert machine.adc.attenuation == 3  # ATTN_11DB: the full range


def _counter(slot_id="soap", refill_pin=None):
    from drsagent.hal import counter
    from drsagent.store import FlashStore

    clock = FakeTicks(1000)
    patch = Patch(counter, ticks_ms=clock.ticks_ms, ticks_diff=clock.ticks_diff)
    with patch:
        dose_counter = counter.DoseCounter(slot_id, FlashStore(), refill_pin, 20)
    return dose_counter, clock, patch


def check_counter_counts_debounces_and_persists():
    from drsagent.store import FlashStore

    dose_counter, clock, patch = _counter()
    with patch:
        for _ in range(3):
            clock.ms += 100
            dose_counter.pulse()
            clock.ms += 5
            dose_counter.pulse()  # contact bounce 5 ms later: not a dose
        assert dose_counter.read() == 3
    assert FlashStore().read_json("counter.json") == {"soap": 3}
    # a reboot: a new counter starts from what is on flash
    dose_counter, clock, patch = _counter()
    with patch:
        assert dose_counter.read() == 3
        clock.ms += 100
        dose_counter.pulse()
        assert dose_counter.read() == 4


def check_counter_refill_from_console_and_switch():
    from drsagent.hal import counter
    from drsagent.hal.counter import refill
    from drsagent.store import FlashStore

    dose_counter, clock, patch = _counter("tabs")
    with patch:
        clock.ms += 100
        dose_counter.pulse()
        assert dose_counter.read() == 1
        refill("tabs")  # the setup console: refilled
        assert dose_counter.read() == 0
        clock.ms += 100
        dose_counter.pulse()
        assert dose_counter.read() == 1
    assert FlashStore().read_json("counter.json") == {"tabs": 1}
    counter._COUNTERS.clear()  # a slot with no live counter: refill writes the file
    refill("tabs")
    assert FlashStore().read_json("counter.json") == {"tabs": 0}
    machine = FakeMachine()
    switch = machine.Pin(4, machine.Pin.IN, machine.Pin.PULL_UP)
    dose_counter, clock, patch = _counter("tabs", switch)
    with patch:
        clock.ms += 100
        dose_counter.pulse()
        assert dose_counter.read() == 1
        switch.level = 0  # lid open: refilling
        assert dose_counter.read() == 0
        writes = []
        dose_counter._persist = writes.append
        assert dose_counter.read() == 0  # still open: nothing new to write
        assert writes == []


def check_counter_corrupt_file_and_make():
    from drsagent.boot import make_sensor

    with open("counter.json", "w") as f:
        f.write('{"soap": 1')  # cut by a power loss
    machine = FakeMachine()
    slot = {"id": "soap", "sensor": {"driver": "counter", "pin": 27, "refill_pin": 26}}
    with installed_modules(machine=machine):
        read = make_sensor(validated(slot))
    assert read() == 0
    pin = machine.pins[27]
    assert pin.handler is not None  # the pulse IRQ is wired
    pin.handler(pin)
    assert read() == 1
    assert machine.pins[26].level == 1  # refill switch pulled up: not refilling


def check_calibrate_routine():
    from drsagent import calibrate
    from drsagent.errors import ConfigError

    readings = {"now": [900]}
    steps = []

    def read():
        return readings["now"][0]

    def empty_container():
        steps.append("empty")
        readings["now"] = [900]

    def full_container():
        steps.append("full")
        readings["now"] = [120]

    values = calibrate.calibrate({"id": "x"}, empty_container, full_container, lambda s: read)
    assert values == {"empty": 900, "full": 120}, values
    assert steps == ["empty", "full"]
    try:
        calibrate.calibrate({"id": "x"}, lambda: None, lambda: None, lambda s: read)
        raise AssertionError("empty == full accepted")
    except ConfigError as e:
        assert "read the same" in str(e)
    try:
        calibrate.measure(lambda: None)
        raise AssertionError("a silent sensor accepted")
    except ConfigError as e:
        assert "no reading" in str(e)
    junk = [float("nan"), 5, 6, 7, True]
    assert calibrate.measure(lambda: junk.pop(0)) == 6  # NaN and True are not readings
    config = {"slots": [{"id": "x", "sensor": {"driver": "adc", "pin": 3, "empty": 0, "full": 1}}]}
    calibrate.apply(config, "x", values)
    assert config["slots"][0]["sensor"] == {"driver": "adc", "pin": 3, "empty": 900, "full": 120}
    try:
        calibrate.apply(config, "nope", values)
        raise AssertionError("unknown slot accepted")
    except ConfigError as e:
        assert "nope" in str(e)
