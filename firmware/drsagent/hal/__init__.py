# Sensor drivers, one per module, imported by name so a board only loads what it uses.
from drsagent.errors import ConfigError

# Driver names a config may ask for; each module exposes make(slot_cfg).
DRIVERS = ("sim", "hx711")


def make_sensor(slot_cfg):
    """Build the raw sensor of one slot: an object with read() -> raw number or None."""
    sensor = slot_cfg.get("sensor") or {}
    name = sensor.get("driver")
    if name not in DRIVERS:
        raise ConfigError(
            "config.json: slots[%s].sensor.driver: unknown driver %r (expected one of %s)"
            % (slot_cfg.get("id"), name, ", ".join(DRIVERS))
        )
    # fromlist makes __import__ return the leaf module on MicroPython and CPython alike.
    mod = __import__("drsagent.hal." + name, None, None, ("make",), 0)
    return mod.make(slot_cfg)
