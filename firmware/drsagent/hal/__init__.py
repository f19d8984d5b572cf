# Sensors, clock and network: one driver per module, imported by name so a board only
# loads what it uses.
#
# A sensor driver module has make(slot_config) -> a callable that returns the raw
# reading (a number) or None, and SENSOR_KEYS: its keys of the slot's "sensor" object
# in config.py's table language ("dout i, sck i, samples c=5"), checked (and their
# defaults filled in) by the boot-time validator. SENSOR_DRIVERS lists the modules.
SENSOR_DRIVERS = ("sim", "hx711")
