# Sensors, clock and network: one driver per module, imported by name so a board only
# loads what it uses. A sensor driver module has make(slot config) -> a callable that
# returns the raw reading (a number) or None; boot.make_sensor picks the module.
