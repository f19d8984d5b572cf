# Agent boot (Agent.from_flash, Agent.reload, building the lanes): boot-only code,
# imported for the call and unloaded again (compat.run_once) so it does not stay in
# the heap. Nothing built here may keep a reference to this module's functions.
# Config validation (config.py) is loaded and dropped inside it, before the network
# stack is imported, so the two never sit in the heap together.
from drsagent import log
from drsagent.compat import collect, const, run_once
from drsagent.errors import ConfigError


def compact(data, keys=None):
    """A fresh copy of parsed JSON, made once the validator's temporaries are freed.

    Parsing and validating leave the kept values (numbers, strings) spread thinly over
    the heap among freed temporaries; the holes between them are too small for the
    network code imported next (measured: a 64 KiB heap failed there with 23 KB free).
    The copy fills the low holes and the thin originals are freed as a whole.

    Equal keys share one string (keys: those copied so far): json.loads makes a string
    per key of each dict, and every slot repeats the same dozen long key names (about
    0.9 KB per slot beyond the first; a json.dumps/loads round trip would keep them)."""
    if keys is None:
        collect()
        keys = {}
    if isinstance(data, dict):
        d = {}
        for k in data:
            if k not in keys:
                keys[k] = k[:]  # MicroPython: a fresh string (an interned name as is)
            d[keys[k]] = compact(data[k], keys)
        return d
    if isinstance(data, list):
        return [compact(v, keys) for v in data]
    if isinstance(data, str):
        return data[:]
    if isinstance(data, float):
        return data + 0.0  # a fresh float where floats live in the heap
    return data


def make_drs(config, secrets, store, clock):
    """The real DRS client stack (LwA token manager + DrsClient) from config/secrets."""
    from drsagent.drs import DrsClient
    from drsagent.lwa import TokenManager

    ep = config["endpoints"]
    cadata = None
    if ep["drs"].startswith("https:") or ep["lwa"].startswith("https:"):
        cadata = run_once("config", "load_ca", store, config)  # ConfigError: missing/empty
    timeout = config["http_timeout_s"]
    tokens = TokenManager(
        ep["lwa"], secrets, store.save_secrets, clock, timeout=timeout, cadata=cadata
    )
    return DrsClient(ep["drs"], tokens, timeout=timeout, cadata=cadata)


def make_sensor(config):
    """One slot's raw sensor: a callable returning a raw number or None. Drivers are
    modules of drsagent.hal imported by name (a board only loads what it uses); the
    validator (config.py) has checked the name against hal.SENSOR_DRIVERS."""
    name = config["sensor"]["driver"]
    # fromlist makes __import__ return the leaf module on MicroPython and CPython alike.
    return __import__("drsagent.hal." + name, None, None, ("make",), 0).make(config)


_HOUR = const(3600)
_REPORT_WINDOW = const(14400)  # daily reports spread over 4 h from report_hour_utc
_K_FILTER = const("fl")  # state.json, deep sleep only: the slot's reading filter (a list)


def report_offset(serial):
    """Seconds after report_hour_utc at which the device with this serial reports:
    32-bit FNV-1a of the serial modulo the window, the same on every boot, firmware
    version and runtime (docs/contracts.md, "Request schedule")."""
    h = 2166136261
    for b in serial.encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h % _REPORT_WINDOW


def report_time(config):
    """The daily report time: seconds after 00:00 UTC (may exceed a day: wraps)."""
    serial = (config.get("device") or {}).get("serial") or ""
    return config.get("report_hour_utc", 3) * _HOUR + report_offset(serial)


def restore_filter(saved, level):
    """The reading filter a deep-sleep device kept in state.json (each wake is a boot,
    and a held reading waits for the next wake) when each field has its kind
    (reading.FIELD_KINDS); else a new filter at the saved level."""
    from drsagent.reading import FIELD_KINDS, new_filter

    if not isinstance(saved, list) or len(saved) != len(FIELD_KINDS):
        return new_filter(level)
    for i in range(len(FIELD_KINDS)):
        v = saved[i]
        kind = FIELD_KINDS[i]
        if kind == "i":
            sound = type(v) is int
        elif v is None:
            sound = True
        elif kind == "s":
            sound = isinstance(v, str)
        else:
            sound = not isinstance(v, bool) and isinstance(v, (int, float)) and v == v
        if not sound:
            return new_filter(level)
    return saved


# What the order machine (slot.py) keeps in a slot's dict (contracts.md): the keys that
# hold numbers (with the agent's "rp"), those that hold a string or null, the states in
# which an order may be out and the other states; and the estimator's number keys.
_NUMBER_KEYS = const(("since", "at", "n", "h", "pe", "rf", "ua", "rp"))
_ESTIMATOR_KEYS = const(("l", "r", "t", "rl", "rt", "k", "u", "l0", "t0"))
_TEXT_KEYS = const(("eid", "os"))
_ORDER_STATES = const(("ordering", "ordered", "inflight", "possibly_placed"))
_OTHER_STATES = const(("idle", "delivered", "cooldown"))
_K_UNKNOWN_SINCE = const("ua")  # a const: a two-letter literal would be one more interned name


def open_since(d):
    """When an order may have gone out for this slot (the first attempt with an unknown
    outcome, else when its order state began), or None when none can be out."""
    first_unknown = d.get(_K_UNKNOWN_SINCE)
    if first_unknown is not None:
        return first_unknown
    if d.get("st") in _ORDER_STATES or d.get("eid"):
        return d.get("since", 0)
    return None


def repair_slot(d, c, t):
    """Check one slot's persisted state (d, changed in place) after a boot; return why
    it was repaired, or None when it was sound. A damaged slot that may have an order
    out becomes possibly_placed (it waits for the refill), never idle."""
    from drsagent import slot

    bad = []
    for k in _NUMBER_KEYS + _ESTIMATOR_KEYS:
        v = d.get(k, 0)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
            bad.append(k)
            del d[k]
    for k in _TEXT_KEYS:
        v = d.get(k)
        if v is not None and not (isinstance(v, str) and v):
            bad.append(k)
            d[k] = None
    st = slot.order_state(d)
    known = st in _ORDER_STATES or st in _OTHER_STATES
    if known and not bad:
        return None
    if not known:
        bad.append("unknown state %r" % (st,))
    out_since = open_since(d)
    if out_since is not None:
        slot.possibly_placed(d, c, t, min(out_since or t, t))
    elif not known:
        d.update(slot.new_state(t))
    return "damaged values: " + ", ".join(bad)


def boot(a):
    """Agent.from_flash, for the new agent a: load state (never fails), count the
    boot, then config/secrets."""
    store = a.store
    clock = a.clock
    try:
        run_once("config", "remove_stale_tmp", store)  # leftovers of writes cut by a power loss
    except Exception:
        pass
    state = a.state = run_once("config", "load_state", store)  # never fails
    state["boots"] = state.get("boots", 0) + 1
    a.emit("boot", t=clock.now(), boots=state["boots"])
    try:
        store.save_state(state)
    except Exception as e:  # flash trouble must not stop the boot
        log.error("boot: cannot save state: %s" % e)
    try:
        reload(a)
    except MemoryError as e:  # step() tries again; the boot is not repeated
        log.error("boot: out of memory: %s" % e)


# What the estimator (uh, ud) and the lead-time learner (lh, lp, le) keep in a slot's
# dict (contracts.md): "key kind", kind list: a list of at most 28 ints, four: a list of
# exactly 4 ints, int: an int.
_LEARNED = const("uh list, ud four, lh list, lp int, le int")


def _check_learned(d):
    """Drop everything learned from a slot dict read from flash if any of it is
    broken: learning starts over rather than a bad value failing every loop."""
    is_int = lambda v: isinstance(v, int) and not isinstance(v, bool)  # noqa: E731
    for item in _LEARNED.split(", "):
        k, kind = item.split()
        v = d.get(k)
        if v is None:
            continue
        if kind == "int":
            ok = is_int(v)
        else:
            ok = isinstance(v, list) and all(is_int(x) for x in v)
            ok = ok and (len(v) <= 28 if kind == "list" else len(v) == 4)
        if not ok:
            for item in _LEARNED.split(", "):
                d.pop(item.split()[0], None)
            log.warn("state.json: learned values were broken: learning starts over")
            return


def reload(a):
    """Agent.reload: (re)read config and secrets; True when the agent can run."""
    store = a.store
    try:
        config = compact(run_once("config", "load_config", store))
        secrets = compact(run_once("config", "load_secrets", store))
        sensors = [(a.make_sensor or make_sensor)(c) for c in config["slots"]]
        drs = (a.make_drs or make_drs)(config, secrets, store, a.clock)
    except ConfigError as e:
        msg = str(e)
    except MemoryError:
        raise  # not the config's fault: let the loop log it and try again
    except Exception as e:  # a KeyError or OSError here is a config problem too
        msg = "config: %s: %s" % (type(e).__name__, e)
    else:
        msg = None
    if msg is not None:
        if msg != a.error:
            a.error = msg
            log.error(msg)
            a.emit("config_error", t=a.clock.now(), msg=msg)
        return False
    from drsagent import backoff
    from drsagent.estimator import level
    from drsagent.reading import new_filter
    from drsagent.slot import OrderMachine, new_state, order_state

    if config["endpoints"]["drs"][:5] == "http:" or config["endpoints"]["lwa"][:5] == "http:":
        log.warn("config: plain HTTP to a loopback development emulator (no TLS)")
    backoff.seed(config.get("jitter_seed"))  # tests: a replayable jitter

    # Each deep-sleep wake is a boot with one pass: the reading filters live in
    # state.json then, and the state is saved at the end of that pass.
    deep_sleep = config["board"]["deep_sleep"]
    if deep_sleep:
        a.save_soon()
    # Keep in the heap only what the loop reads: the network settings live on in drs,
    # the board options are read by board.py on their own.
    for k in ("endpoints", "ca_file", "http_timeout_s", "board"):
        config.pop(k, None)
    config["device"] = {"serial": config["device"]["serial"]}
    a.config = config
    a.drs = drs
    a.orders = OrderMachine(drs, a.save, a.emit, config, report_time(config))
    a.error = None
    slots = a.state.setdefault("slots", {})
    lanes = []
    t = a.clock.now()
    for i, c in enumerate(config["slots"]):
        sid = c["id"]
        d = slots.get(sid)
        if not isinstance(d, dict) or order_state(d) is None:
            d = slots[sid] = new_state(t)
            a.save_soon()  # a new slot: on flash after the next step
        else:
            why = repair_slot(d, c, t)
            if why:
                log.warn("state.json: slot %s repaired: %s" % (sid, why))
                a.emit("state_repaired", t=t, slot=sid, why=why, st=order_state(d))
                a.save_soon()
        _check_learned(d)
        # Seed the filter with the persisted level: a glitch right after a reboot
        # is then held like any other spike instead of being believed.
        if deep_sleep:
            reading_filter = d[_K_FILTER] = restore_filter(d.get(_K_FILTER), level(d))
        else:
            d.pop(_K_FILTER, None)
            reading_filter = new_filter(level(d))
        lanes.append((sid, c, sensors[i], d, reading_filter))
    a.lanes = lanes
    for sid in list(slots):
        if sid not in [lane[0] for lane in lanes]:  # slot removed from config.json
            del slots[sid]
            a.save_soon()
    return True
