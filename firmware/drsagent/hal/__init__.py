# Sensors, clock and network: one driver per module, imported by name so a board only
# loads what it uses. A sensor driver module has make(slot config) -> a callable that
# returns the raw reading (a number) or None, and SENSOR_KEYS: its keys of the slot's
# "sensor" object in config.py's table language ("key kind, ..."). boot.make_sensor
# picks the module by the slot's sensor.driver, one of SENSOR_DRIVERS.
SENSOR_DRIVERS = ("sim", "hx711", "vl53l0x", "ultrasonic", "adc", "counter")
