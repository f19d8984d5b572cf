# Pulse/dose counter: a pump or dispenser gives one pulse per dose (a flow meter, a
# motor's cam switch). The raw reading is the number of doses since the last refill;
# with sensor.empty = the doses a full container holds and sensor.full = 0, the level
# is capacity - doses. A count never "sticks", so such a slot sets stuck_readings 0.
#
# The count survives a reboot: read() writes it to counter.json (crash-safe, like
# every file of the store) when it changed, so a power cut loses at most the doses of
# the current loop pass. A refill (the setup console, or an optional refill switch
# that pulls refill_pin low while the container is open) starts again at 0.
from drsagent.hal.sampling import ticks_diff, ticks_ms

_FILE = "counter.json"  # {slot id: doses since the refill}

# The slot's "sensor" keys (config.py's table language): the dose switch's GPIO, an
# optional refill (lid) switch's GPIO, and the contact bounce to ignore.
SENSOR_KEYS = "pin i, refill_pin i?, debounce_ms z=20"


# slot id -> its live DoseCounter, so refill() from the setup console reaches it
_COUNTERS = {}


def _load(store):
    try:
        counts = store.read_json(_FILE)
    except (OSError, ValueError):  # none yet, or cut mid-write before the rename
        return {}
    return counts if isinstance(counts, dict) else {}


def _save(store, slot_id, doses):
    counts = _load(store)
    counts[slot_id] = doses
    store.write_json(_FILE, counts)


class DoseCounter:
    """Counts pulses from an IRQ (pulse(), the pin's handler) and turns them into
    doses since the refill. The handler only increments `pulses` (it allocates
    nothing and is the only writer), read() only reads it: no lock needed."""

    def __init__(self, slot_id, store, refill_pin, debounce_ms):
        self.slot_id = slot_id
        self.store = store
        self.refill_pin = refill_pin
        self.debounce_ms = debounce_ms
        self.pulses = 0
        self.last_pulse_ms = ticks_ms() - debounce_ms
        doses = _load(store).get(slot_id, 0)
        if not isinstance(doses, int) or doses < 0:
            doses = 0
        self.offset = doses  # doses = offset + pulses
        self.saved = doses
        _COUNTERS[slot_id] = self

    def pulse(self, pin=None):
        now = ticks_ms()
        if ticks_diff(now, self.last_pulse_ms) >= self.debounce_ms:  # contact bounce
            self.last_pulse_ms = now
            self.pulses += 1

    def refill(self):
        self.offset = -self.pulses
        if self.saved != 0:  # a lid switch held open: one write, not one per pass
            self._persist(0)

    def _persist(self, doses):
        _save(self.store, self.slot_id, doses)
        self.saved = doses

    def read(self):
        """Doses since the refill (persisted when changed)."""
        if self.refill_pin is not None and self.refill_pin.value() == 0:
            self.refill()
        doses = self.offset + self.pulses
        if doses != self.saved:
            self._persist(doses)
        return doses


def refill(slot_id, store=None):
    """The container of slot_id was refilled: its count starts again at 0."""
    counter = _COUNTERS.get(slot_id)
    if counter is not None:
        counter.refill()
    else:
        if store is None:
            from drsagent.store import FlashStore

            store = FlashStore()
        _save(store, slot_id, 0)


def make(config):
    import machine  # board module: only imported on a board

    from drsagent.store import FlashStore

    sensor = config["sensor"]
    refill_pin = sensor.get("refill_pin")
    if refill_pin is not None:
        refill_pin = machine.Pin(refill_pin, machine.Pin.IN, machine.Pin.PULL_UP)
    counter = DoseCounter(config["id"], FlashStore(), refill_pin, sensor["debounce_ms"])
    pin = machine.Pin(sensor["pin"], machine.Pin.IN, machine.Pin.PULL_UP)
    pin.irq(handler=counter.pulse, trigger=machine.Pin.IRQ_FALLING)
    return counter.read
