# Answers to the setup console's frames (docs/provisioning.md), imported for one frame
# and unloaded again (console.py calls handle() through compat.run_once).
#
# Every change is validated as a whole (config.py, the agent's own boot checks) and
# written with FlashStore.write_json (tmp + rename): a refused or cut provisioning
# leaves the previous files in place. Secrets go in, never out: replies say "present".
import gc
import json
import sys

from drsagent import VERSION, improv, log
from drsagent.compat import const, run_once

_WIFI_CONNECT_S = const(10)  # Improv "send Wi-Fi settings": give up after this
_SSID_MAX = const(32)  # IEEE 802.11 limits, in bytes
_PASSWORD_MAX = const(63)

# Improv states and errors
_STATE_READY = const(0x02)  # "authorized": ready to take Wi-Fi settings
_STATE_PROVISIONING = const(0x03)
_STATE_PROVISIONED = const(0x04)
_ERROR_NONE = const(0x00)
_ERROR_UNKNOWN_RPC = const(0x02)
_ERROR_UNABLE_TO_CONNECT = const(0x03)
_ERROR_UNKNOWN = const(0xFF)
# Improv RPC commands
_RPC_WIFI = const(0x01)
_RPC_STATE = const(0x02)
_RPC_INFO = const(0x03)
_RPC_SCAN = const(0x04)

_CONFIG = const("config.json")
_SECRETS = const("secrets.json")
# everything the device wrote: a counter's doses or a sleep schedule would outlive a reset
_FACTORY_FILES = const(
    ("config.json", "secrets.json", "state.json", "state.bak", "counter.json", "schedule.json")
)


class SetupError(Exception):
    """A request the console refuses; the message goes back to the desktop."""


def handle(c, frame):
    """Answer one frame (header, type, data) read by console `c`; data None: dropped."""
    header, kind, data = frame
    if data is None:
        why = "bad checksum" if kind == improv.DROPPED_CHECKSUM else "malformed frame"
        c.refuse(header, why + ", frame dropped")
    elif header == improv.IMPROV:
        if kind == improv.TYPE_RPC:  # state/error/result frames are ours to send
            _improv(c, data)
    elif kind != improv.TYPE_REQUEST:
        c.refuse(header, "not a request frame")
    else:
        _setup(c, data)


def _wifi():
    """The board's Wi-Fi driver, or None on a port without Wi-Fi."""
    try:
        from drsagent.hal import wifi

        return wifi
    except ImportError:
        return None


def _read(c, name, default):
    try:
        d = c.store.read_json(name)
    except (OSError, ValueError):
        return default
    return d if isinstance(d, dict) else default


def _serial(c):
    device = _read(c, _CONFIG, {}).get("device")
    return device.get("serial") if isinstance(device, dict) else None


# -- Improv Wi-Fi ---------------------------------------------------------------
def _state(c, state):
    c.send(improv.IMPROV, improv.TYPE_STATE, bytes((state,)))


def _error(c, code):
    c.send(improv.IMPROV, improv.TYPE_ERROR, bytes((code,)))


def _result(c, command, strings):
    data = bytearray((command, 0))
    for s in strings:
        s = s.encode()
        data.append(len(s))
        data.extend(s)
    data[1] = len(data) - 2
    c.send(improv.IMPROV, improv.TYPE_RESULT, data)


def _improv(c, data):
    if len(data) < 2 or data[1] != len(data) - 2:
        c.refuse(improv.IMPROV, "Improv RPC: length does not match its data")
        return
    command = data[0]
    wifi = _wifi()
    if command == _RPC_WIFI:
        _improv_wifi(c, wifi, data[2:])
    elif command == _RPC_STATE:
        _error(c, _ERROR_NONE)
        connected = wifi is None or wifi.is_connected()
        _state(c, _STATE_PROVISIONED if connected else _STATE_READY)
    elif command == _RPC_INFO:
        _result(c, command, ("drsagent", VERSION, sys.platform, _serial(c) or "drsagent"))
    elif command == _RPC_SCAN and wifi is not None:
        for ssid, rssi, secured in wifi.scan():
            _result(c, command, (ssid, str(rssi), "YES" if secured else "NO"))
        _result(c, command, ())  # an empty result ends the list
    else:
        log.warn("console: unknown Improv RPC 0x%02x" % command)
        _error(c, _ERROR_UNKNOWN_RPC)


def _improv_wifi(c, wifi, payload):
    # ssid length, ssid, password length, password: the lengths must add up exactly.
    n = payload[0] if payload else 0
    m = payload[n + 1] if len(payload) > n + 1 else -1
    why = None  # whole messages: a reason of up to 10 characters would be an interned name
    if not n or m < 0 or len(payload) != n + m + 2:
        why = "Improv Wi-Fi settings: malformed"
    elif n > _SSID_MAX or m > _PASSWORD_MAX:
        why = "Improv Wi-Fi settings: SSID over %d or password over %d bytes"
        why = why % (_SSID_MAX, _PASSWORD_MAX)
    else:
        try:
            ssid = payload[1 : n + 1].decode()
            password = payload[n + 2 :].decode()
        except UnicodeError:
            why = "Improv Wi-Fi settings: not UTF-8"
    if why:
        c.refuse(improv.IMPROV, why)
        return
    if wifi is None:
        _error(c, _ERROR_UNKNOWN_RPC)
        return
    secrets = _read(c, _SECRETS, {})
    secrets["wifi"] = {"ssid": ssid, "password": password}
    log.secret("wifi_password", password)
    _state(c, _STATE_PROVISIONING)
    wifi.disconnect()  # the new network, not whatever we are on
    if not wifi.connect(secrets, _WIFI_CONNECT_S):
        log.warn("console: cannot connect to Wi-Fi %r; settings not saved" % ssid)
        _error(c, _ERROR_UNABLE_TO_CONNECT)
        _state(c, _STATE_READY)
        return
    try:
        c.store.write_json(_SECRETS, secrets)
    except OSError as e:
        log.error("console: cannot save Wi-Fi settings: %s" % e)
        _error(c, _ERROR_UNKNOWN)
        return
    c.changes += 1
    log.info("console: Wi-Fi %r saved" % ssid)
    _state(c, _STATE_PROVISIONED)
    _result(c, _RPC_WIFI, ())


# -- setup frames -----------------------------------------------------------------
def _setup(c, data):
    try:
        request = json.loads(data)
        if not isinstance(request, dict):
            raise ValueError
    except ValueError:
        c.refuse(improv.SETUP, "setup frame: not a JSON object")
        return
    command = request.get("cmd")
    handler = _COMMANDS.get(command)
    why = None
    if handler is None:
        why = "setup frame: unknown command %r" % (command,)
    else:
        try:
            reply = handler(c, request) or {}
        except SetupError as e:
            why = "%s: %s" % (command, e)
        except Exception as e:  # ConfigError, OSError, network errors: say why, go on
            why = "%s: %s: %s" % (command, type(e).__name__, e)
    if why is None:
        reply["ok"] = True
    else:
        log.warn("console: " + why)
        reply = {"ok": False, "error": why}
    reply["id"] = request.get("id")  # the desktop matches the answer to its request
    c.send(improv.SETUP, improv.TYPE_REPLY, json.dumps(reply).encode())


def _validated(config):
    """A validated copy of config, defaults filled in (ConfigError says what is wrong);
    config itself stays as given, so the file keeps only what was provisioned."""
    return run_once("config", "validate_config", json.loads(json.dumps(config)))


def _write_config(c, config):
    _validated(config)
    c.store.write_json(_CONFIG, config)
    c.changes += 1


def _current_config(c):
    config = _read(c, _CONFIG, None)
    if config is None:
        raise SetupError("no config.json yet: send the whole configuration first")
    return config


def _config(c, request):
    config = request.get("config")
    if not isinstance(config, dict):
        raise SetupError("expected {'config': {...}}")
    _write_config(c, config)
    log.info("console: config.json saved")


def _slots(c, request):
    slots = request.get("slots")
    if not isinstance(slots, list):
        raise SetupError("expected {'slots': [...]}")
    config = _current_config(c)
    config["slots"] = slots
    _write_config(c, config)
    log.info("console: %d slot(s) saved" % len(slots))


def _slot_index(config, slot_id):
    """Where the slot slot_id is in config["slots"]; SetupError if it is not there."""
    for i, s in enumerate(config.get("slots") or ()):
        if isinstance(s, dict) and s.get("id") == slot_id:
            return i
    raise SetupError("no slot %r" % (slot_id,))


def _calibrate(c, request):
    """Store a slot's empty or full reading: read now, or a given value."""
    point = request.get("point")
    if point not in ("empty", "full"):
        raise SetupError("point must be 'empty' or 'full'")
    config = _current_config(c)
    slot_id = request.get("slot")
    index = _slot_index(config, slot_id)
    raw = request.get("value")
    if raw is None:  # the driver needs its settings with their defaults: a valid copy
        slot = _validated(config)["slots"][index]
        raw = run_once("boot", "make_sensor", slot)()
        if raw is None:
            raise SetupError("the sensor of slot %r does not answer" % slot_id)
    slot = config["slots"][index]
    slot["sensor"][point] = raw
    _write_config(c, config)
    log.info("console: slot %s %s = %s" % (slot_id, point, raw))
    return {"raw": raw}


def _refill(c, request):
    """A dose-counter slot was refilled: its count starts again at 0 (the only way for a
    counter without a refill switch; every other sensor sees the refill itself)."""
    slot_id = request.get("slot")
    config = _current_config(c)
    sensor = config["slots"][_slot_index(config, slot_id)].get("sensor")
    if not isinstance(sensor, dict) or sensor.get("driver") != "counter":
        raise SetupError("slot %r has no dose counter: its sensor sees the refill" % slot_id)
    from drsagent.hal import counter

    counter.refill(slot_id, c.store)
    log.info("console: slot %s refilled: dose count 0" % slot_id)


def _lwa(c, request):
    secrets = _read(c, _SECRETS, {})
    lwa = {}
    for key in ("client_id", "client_secret", "refresh_token"):
        lwa[key] = request.get(key)
    before = secrets.get("lwa")
    secrets["lwa"] = lwa
    run_once("config", "validate_secrets", secrets)  # names a key, never a value
    if before != lwa:
        _hold_lost_answers(c)  # on flash before the new credentials are
    c.store.write_json(_SECRETS, secrets)
    c.changes += 1
    log.info("console: LwA credentials saved")


def _hold_lost_answers(c):
    """New credentials may be a new Amazon registration, whose ORDER_INPROGRESS does
    not cover an order placed under the old one: a slot whose replenish answer was
    lost (boot.open_since, while ordering) may have ordered, so it becomes possibly
    placed (it waits for the refill, slot.possibly_placed) instead of retrying."""
    from drsagent import slot

    agent = c.agent
    if agent is not None and agent.state:
        state = agent.state
    else:
        state = run_once("config", "load_state", c.store)
    t = c.clock.now() if c.clock.is_set() else 0
    held = False
    slots = None  # the validated slot configs: read and validated once, if a slot needs them
    for sid, d in (state.get("slots") or {}).items():
        since = d.get("ua") if slot.order_state(d) == "ordering" else None
        if since is None:
            continue
        if slots is None:
            slots = _validated(_current_config(c))["slots"]
        for s in slots:  # none: no longer configured, the agent drops it at the reload
            if s["id"] == sid:
                slot.possibly_placed(d, s, max(t, since), since)
                log.warn("console: slot %s: an order may be out: waiting for its refill" % sid)
                held = True
    if held:
        if agent is not None and agent.state is state:
            agent.save()
        else:
            c.store.save_state(state)


def _status(c, request):
    config = _read(c, _CONFIG, {})
    secrets = _read(c, _SECRETS, {})
    wifi = secrets.get("wifi") if isinstance(secrets.get("wifi"), dict) else {}
    lwa = secrets.get("lwa") if isinstance(secrets.get("lwa"), dict) else {}
    driver = _wifi()
    agent = c.agent
    state = agent.state.get("slots", {}) if agent is not None else {}
    slots = []
    from drsagent import estimator, slot

    for s in config.get("slots") or ():
        if isinstance(s, dict):
            d = state.get(s.get("id")) or {}
            slots.append(
                {"id": s.get("id"), "state": slot.order_state(d), "level": estimator.level(d)}
            )
    error = agent.error if agent is not None else None
    try:
        _validated(config)
    except Exception as e:
        error = str(e) if config else "config.json: missing (not provisioned)"
    free = getattr(gc, "mem_free", None)  # MicroPython only
    return {
        "serial": _serial(c),
        "firmware": VERSION,
        "platform": sys.platform,
        "heap_free": free() if free else None,
        "clock_set": c.clock.is_set(),
        "mode": "running" if agent is not None and agent.config is not None else "setup",
        "wifi": {"ssid": wifi.get("ssid"), "connected": driver is None or driver.is_connected()},
        "lwa": {
            "client_id": "present" if lwa.get("client_id") else "missing",
            "refresh_token": "present" if lwa.get("refresh_token") else "missing",
        },
        "slots": slots,
        "last_error": error,
    }


def _check(c, request):
    """Can this device reach DRS with what is on flash? (subscriptionInfo)"""
    config = run_once("config", "load_config", c.store)
    secrets = run_once("config", "load_secrets", c.store)
    if not c.clock.is_set():
        try:
            from drsagent.hal import ntp

            ntp.sync()
        except ImportError:
            pass
    drs = run_once("boot", "make_drs", config, secrets, c.store, c.clock)
    return {"subscribed": run_once("drsadmin", "subscription_info", drs)}


def _log(c, request):
    """The last warnings and errors, oldest first (already scrubbed of secrets)."""
    return {"lines": c.recent}


def _factory_reset(c, request):
    import os

    for name in _FACTORY_FILES:
        try:
            os.remove(c.store.path(name))
        except OSError:
            pass
    c.changes += 1
    log.warn("console: factory reset")


_COMMANDS = {
    "config": _config,
    "slots": _slots,
    "calibrate": _calibrate,
    "refill": _refill,
    "lwa": _lwa,
    "status": _status,
    "check": _check,
    "log": _log,
    "factory_reset": _factory_reset,
}
