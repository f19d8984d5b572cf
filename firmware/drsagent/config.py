# Boot-time file handling, imported for the call and unloaded again (callers reach it
# through compat.run_once("config", ...)): validation of config.json and secrets.json (contracts.md
# section 1), state recovery, the CA bundle, leftovers of cut writes.
#
# Errors name the file, the key path and what was expected so a device maker can fix
# the file from the message alone; secret values never appear in messages. The
# checks are tables of "key.path kind" (kinds below) rather than code per key: every
# identifier in this module would stay interned in the heap after it is unloaded.
#
# This is the one config schema: each optional key's default is written here, in the
# table, and filled in by the validator, so the code that uses a key reads it plainly
# (config["floor"]) and never repeats the default. A sensor driver (drsagent.hal)
# declares its own keys in the same language as SENSOR_KEYS, relative to the slot's
# "sensor" object; hal.SENSOR_DRIVERS lists the driver modules.
import json
import os

from drsagent import log
from drsagent.compat import const
from drsagent.errors import ConfigError
from drsagent.hal import SENSOR_DRIVERS

# Kinds (a letter of "olsSubhnpzfci"): o object, l non-empty list, s non-empty string,
# S string, u http(s) URL (a host, an optional port 1..65535), b true/false, h hour
# 0..23, n number, p number > 0, z number >= 0, f number in [0, 1], c integer >= 1,
# i integer >= 0 (a GPIO pin number). After the kind: "?" optional (absent or null),
# or "=<JSON value>" optional with that default, filled in when absent or null.
_KINDS = const("olsSubhnpzfci")

_CONFIG_KEYS = const(
    "device o, device.serial s, device.model S?, endpoints o, endpoints.drs u,"
    " endpoints.lwa u, ca_file s?, loop_interval_s p=3600, http_timeout_s p=10,"
    " test_orders b=false, report_hour_utc h=3, allow_plain_http b=false, jitter_seed c?,"
    " slots l"
)
# Board services (board.py); also read on their own by board_options() below
_BOARD_KEYS = const(
    "board o={}, board.status_led i?, board.status_led_active_low b=false,"
    " board.watchdog_s z=300, board.deep_sleep b=false"
)
_SLOT_KEYS = const(
    "id s, sensor o, sensor.driver s, sensor.empty n, sensor.full n,"
    " sensor.stuck_readings z=48, sensor.spike p=0.3, sensor.fault_after c=3,"
    " capacity p=1.0, lead_time_days z=3, margin_days z=1, cooldown_days z=2,"
    " daily_use z=0, floor f=0.1, order_ceiling f=0.5, rearm f=0.6,"
    " earliest_delivery_h z=12, max_lead_time_days z?, refill_grace_days z=1"
)


def _bad(f, path, text, v=None):
    """Raise the ConfigError for file f at key path: expected text, got v (a value
    from secrets.json is never shown)."""
    if v is None:
        m = "%s: %s: missing, expected %s" % (f, path, text)
    elif f == "secrets.json":
        m = "%s: %s: expected %s" % (f, path, text)
    else:
        r = repr(v)
        if len(r) > 40:
            m = "%s: %s: expected %s, got %.37s..." % (f, path, text, r)
        else:
            m = "%s: %s: expected %s, got %s" % (f, path, text, r)
    raise ConfigError(m)


def _check(f, d, text, path=""):
    """Check d, a JSON object found at path in file f, against text ("key.path kind,
    ..."); fill in the defaults the text gives."""
    if not isinstance(d, dict):
        _bad(f, path[:-1] or "(top level)", "a JSON object", d)
    if not text:
        return
    for item in text.split(", "):
        k, kind = item.split()
        parent = None
        v = d
        for key in k.split("."):
            parent = v
            v = v.get(key) if isinstance(v, dict) else None
        # Slices, not kind[0]: indexing a str interns the character as a name for good.
        i = _KINDS.index(kind[:1])
        if v is None:
            if len(kind) > 1:  # optional
                if kind[1:2] != "?" and isinstance(parent, dict):  # "=<default>"
                    parent[key] = json.loads(kind[2:])
                continue
            ok = False
        elif i < 2:
            ok = isinstance(v, dict) if i == 0 else isinstance(v, list) and len(v) > 0
        elif i < 5:
            ok = isinstance(v, str) and (v or i == 3)
            if ok and i == 4:
                ok = v.startswith("http://") or v.startswith("https://")
                if ok:  # "http(s)://host[:port]/...": a host, a port of digits 1..65535
                    h = v.split("/")[2].split(":")
                    ok = h[0] and (
                        len(h) == 1 or len(h) == 2 and h[1].isdigit() and 0 < int(h[1]) < 65536
                    )
        elif i == 5:
            ok = isinstance(v, bool)
        elif isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
            ok = False  # bool is an int subclass but never a number here; v != v: NaN
        elif i == 6 or i > 10:
            ok = isinstance(v, int) and (0 <= v <= 23 if i == 6 else v > 0 if i == 11 else v >= 0)
        else:
            ok = i == 7 or (v > 0 if i == 8 else v >= 0 and (i == 9 or v <= 1))
        if not ok:
            kind = """an object
a non-empty list
a non-empty string
a string
an http:// or https:// URL with a host (and a port 1..65535)
true or false
an integer hour 0..23
a number
a number > 0
a number >= 0
a number in [0, 1]
an integer >= 1
an integer >= 0""".split("\n")[i]  # by kind, in the order of _KINDS
            _bad(f, path + k, kind, v)


def validate_config(d):
    """Return d (config.json) when valid; ConfigError naming key and expectation."""
    f = "config.json"
    _check(f, d, _CONFIG_KEYS)
    _check(f, d, _BOARD_KEYS)
    ep = d["endpoints"]
    for k in ("drs", "lwa"):
        # Plain HTTP carries the refresh token and client secret in clear: only when
        # the config says so, and only to a development emulator on this machine.
        v = ep[k]
        if v.startswith("http://"):
            if not d["allow_plain_http"]:
                _bad(f, "endpoints.%s" % k, "an https:// URL (http:// needs allow_plain_http)", v)
            if v.split("/")[2].split(":")[0] not in ("127.0.0.1", "localhost"):
                _bad(f, "endpoints.%s" % k, "a loopback host for plain http", v)
        elif not d.get("ca_file"):  # https: verified against the CA bundle it names
            _bad(f, "ca_file", "a non-empty string")
    seen = []
    for i, s in enumerate(d["slots"]):
        p = "slots[%d]." % i
        _check(f, s, _SLOT_KEYS, p)
        if s.get("max_lead_time_days") is None:  # its default: 2.5 x lead_time_days
            s["max_lead_time_days"] = s["lead_time_days"] * 2.5
        driver = s["sensor"]["driver"]
        if driver not in SENSOR_DRIVERS:
            _bad(
                f,
                p + "sensor.driver",
                "a driver of hal.SENSOR_DRIVERS (%s)" % ", ".join(SENSOR_DRIVERS),
                driver,
            )
        # The driver's own keys; fromlist makes __import__ return the leaf module on
        # MicroPython and CPython alike.
        driver = __import__("drsagent.hal." + driver, None, None, ("SENSOR_KEYS",), 0)
        _check(f, s["sensor"], driver.SENSOR_KEYS, p + "sensor.")
        sid = s["id"]
        if sid in seen:
            what = "a unique slot id (also used by slots[%d])" % seen.index(sid)
            _bad(f, p + "id", what, sid)
        seen.append(sid)
        e = s["sensor"]
        if e["empty"] == e["full"]:
            _bad(f, p + "sensor.full", "a value different from sensor.empty", e["full"])
        lo = s["floor"]
        v = s["order_ceiling"]
        if v < lo:
            _bad(f, p + "order_ceiling", "a value >= floor (%s)" % lo, v)
        v = s["rearm"]
        if v <= lo:
            _bad(f, p + "rearm", "a value > floor (%s)" % lo, v)
    return d


def board_options(store):
    """The "board" object of config.json with its defaults filled in; the defaults
    alone when the file is missing, corrupt or the object is invalid (the agent
    reports the file; the board services must start regardless)."""
    try:
        d = load(store, "config.json")
        _check("config.json", d, _BOARD_KEYS)
        return d["board"]
    except Exception:
        d = {}
        _check("config.json", d, _BOARD_KEYS)
        return d["board"]


def validate_secrets(d):
    """Return d (secrets.json) when valid; ConfigError naming the key (never the value)."""
    f = "secrets.json"
    _check(f, d, "lwa o, lwa.client_id s, lwa.client_secret s, lwa.refresh_token s, wifi o?")
    if d.get("wifi") is not None:  # d is a JSON object once checked
        _check(f, d, "wifi.ssid s, wifi.password S?")
    return d


def load(store, name):
    try:
        return store.read_json(name)
    except OSError:
        raise ConfigError("%s: missing" % name) from None
    except ValueError:
        raise ConfigError("%s: not valid JSON" % name) from None


def load_config(store):
    """Validated config.json; ConfigError if missing/corrupt/invalid."""
    return validate_config(load(store, "config.json"))


def load_secrets(store):
    """Validated secrets.json; ConfigError (naming keys, never values)."""
    return validate_secrets(load(store, "secrets.json"))


def remove_stale_tmp(store):
    """Delete leftovers of interrupted writes (name.tmp of the files we write)."""
    removed = []
    try:
        names = os.listdir(store.root or ".")
    except OSError:
        return removed
    for n in names:
        if n in (
            "state.json.tmp",
            "state.bak.tmp",
            "secrets.json.tmp",
            "config.json.tmp",
            "counter.json.tmp",
            "schedule.json.tmp",
        ):
            try:
                os.remove(store.path(n))
                removed.append(n)
            except OSError:
                pass
    if removed:
        log.warn("store: removed unfinished writes " + ", ".join(removed))
    return removed


def load_ca(store, config):
    """The CA bundle named by config["ca_file"] as bytes, or None if not configured."""
    name = config.get("ca_file")
    if not name:
        return None
    try:
        with open(store.path(name), "rb") as fh:
            data = fh.read()
    except OSError:
        raise ConfigError("config.json: ca_file: file %r not found" % name) from None
    if b"-----BEGIN CERTIFICATE-----" not in data and data[:1] != b"\x30":
        raise ConfigError("config.json: ca_file: %r holds no certificate" % name)
    return data


def load_state(store):
    """state.json, else state.bak, else a fresh default; never raises for corruption."""
    for name in ("state.json", "state.bak"):
        why = None  # what went wrong, as a message about the file
        try:
            s = store.read_json(name)
        except OSError:
            if name == "state.bak":
                continue
            try:  # told only when the backup is there to take over
                os.stat(store.path("state.bak"))
            except OSError:
                continue
            why = "store: %s missing"
        except MemoryError:
            raise
        except ValueError:
            why = "store: %s is corrupt"
        except Exception:  # anything odd on flash must not brick boot
            why = "store: %s unreadable"
        else:
            if not (
                isinstance(s, dict)
                and s.get("v") == 1
                and isinstance(s.get("slots", {}), dict)
                and isinstance(s.get("boots", 0), int)
            ):
                why = "store: %s has an unexpected shape"
        if why:
            log.warn(why % name)
            continue
        s.setdefault("boots", 0)
        s.setdefault("last_device_status", 0)
        s.setdefault("slots", {})
        log.info("store: state loaded from %s" % name)
        return s
    log.info("store: no saved state, starting fresh")
    return {"v": 1, "boots": 0, "last_device_status": 0, "slots": {}}
