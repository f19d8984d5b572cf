"""The sensor drivers and the calibration routine against simulated chips, on
CPython and on MicroPython (scenarios_sensors.py holds the checks)."""

import pytest
from board_scenarios import scenario_names


@pytest.mark.parametrize("name", scenario_names("scenarios_sensors"))
def test_sensor_scenario(run_scenario, name):
    run_scenario("scenarios_sensors", name)


@pytest.mark.parametrize("driver", ["hx711", "vl53l0x", "ultrasonic", "adc", "counter"])
def test_sensor_keys_are_in_the_config_table_language(driver):
    """Every driver's SENSOR_KEYS parses with config.py's checker and catches a bad pin."""
    from drsagent import config
    from drsagent.errors import ConfigError
    from drsagent.hal import SENSOR_DRIVERS

    assert driver in SENSOR_DRIVERS
    module = __import__("drsagent.hal." + driver, None, None, ("SENSOR_KEYS",), 0)
    assert callable(module.make)
    keys = [item.split()[0] for item in module.SENSOR_KEYS.split(", ")]
    sensor = {k: 4 for k in keys}
    config._check("config.json", sensor, module.SENSOR_KEYS, "slots[0].sensor.")
    sensor[keys[0]] = "four"
    with pytest.raises(ConfigError, match=rf"slots\[0\]\.sensor\.{keys[0]}: expected"):
        config._check("config.json", sensor, module.SENSOR_KEYS, "slots[0].sensor.")
