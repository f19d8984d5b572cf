# Validation of config.json and secrets.json (contracts.md section 1). Errors
# name the file, the key path and what was expected so a device maker can fix
# the file from the message alone. Secret values never appear in messages.
# Also the rest of the boot-only file handling (state recovery, CA bundle, leftovers
# of cut writes): FlashStore imports this module for those calls and unloads it again.
import os

from drsagent import log
from drsagent.errors import ConfigError
from drsagent.store import CONFIG, STATE, STATE_BAK, _TMP, default_state

_TOP_DEFAULTS = (
    ("loop_interval_s", 3600),
    ("http_timeout_s", 10),
    ("test_orders", False),
    ("report_hour_utc", 3),
)
_SLOT_DEFAULTS = (
    ("capacity", 1.0),
    ("lead_time_days", 3),
    ("margin_days", 1),
    ("floor", 0.1),
    ("order_ceiling", 0.5),
    ("rearm", 0.6),
    ("cooldown_days", 2),
)


def _fail(fname, path, expected, value=None, show=True):
    if value is None:
        msg = fname + ": " + path + ": missing, expected " + expected
    else:
        msg = fname + ": " + path + ": expected " + expected
        if show:
            r = repr(value)
            msg += ", got " + (r if len(r) <= 40 else r[:37] + "...")
    raise ConfigError(msg)


def _is_num(v):
    return (isinstance(v, int) or isinstance(v, float)) and not isinstance(v, bool) and v == v


def _dict(fname, path, v, show=True):
    if not isinstance(v, dict):
        _fail(fname, path, "an object", v, show)
    return v


def _str(fname, path, v, show=True):
    if not isinstance(v, str) or not v:
        _fail(fname, path, "a non-empty string", v, show)
    return v


def _num(fname, path, v, lo=None, hi=None, lo_open=False):
    ok = _is_num(v)
    if ok and lo is not None:
        ok = v > lo if lo_open else v >= lo
    if ok and hi is not None:
        ok = v <= hi
    if not ok:
        if lo is not None and hi is not None:
            what = "a number in [%s, %s]" % (lo, hi)
        elif lo is not None:
            what = "a number " + (">" if lo_open else ">=") + " " + str(lo)
        else:
            what = "a number"
        _fail(fname, path, what, v)
    return v


def _url(fname, path, v):
    if not isinstance(v, str) or not (v.startswith("http://") or v.startswith("https://")):
        _fail(fname, path, "an http:// or https:// URL", v)
    return v


def validate_config(d, fname="config.json"):
    """Return a new config dict with defaults filled in; ConfigError if invalid."""
    _dict(fname, "(top level)", d)
    out = {}
    for k in d:
        out[k] = d[k]

    dev = _dict(fname, "device", d.get("device"))
    _str(fname, "device.serial", dev.get("serial"))
    dev = dict(dev)
    if "model" in dev and not isinstance(dev["model"], str):
        _fail(fname, "device.model", "a string", dev["model"])
    dev.setdefault("model", "")
    out["device"] = dev

    ep = _dict(fname, "endpoints", d.get("endpoints"))
    _url(fname, "endpoints.drs", ep.get("drs"))
    _url(fname, "endpoints.lwa", ep.get("lwa"))
    out["endpoints"] = dict(ep)
    https = ep["drs"].startswith("https:") or ep["lwa"].startswith("https:")
    ca = d.get("ca_file")
    if ca is not None or https:
        _str(fname, "ca_file", ca)
    out["ca_file"] = ca

    for k, dflt in _TOP_DEFAULTS:
        out[k] = d.get(k, dflt)
    _num(fname, "loop_interval_s", out["loop_interval_s"], 0, lo_open=True)
    _num(fname, "http_timeout_s", out["http_timeout_s"], 0, lo_open=True)
    if not isinstance(out["test_orders"], bool):
        _fail(fname, "test_orders", "true or false", out["test_orders"])
    r = out["report_hour_utc"]
    if not isinstance(r, int) or isinstance(r, bool) or not 0 <= r <= 23:
        _fail(fname, "report_hour_utc", "an integer hour 0..23", r)

    slots = d.get("slots")
    if not isinstance(slots, list) or not slots:
        _fail(fname, "slots", "a non-empty list", slots)
    seen = {}
    new_slots = []
    for i in range(len(slots)):
        new_slots.append(_slot(fname, "slots[%d]" % i, slots[i], seen))
    out["slots"] = new_slots
    return out


def _slot(fname, p, s, seen):
    _dict(fname, p, s)
    sid = _str(fname, p + ".id", s.get("id"))
    if sid in seen:
        _fail(fname, p + ".id", "a unique slot id (also used by slots[%d])" % seen[sid], sid)
    seen[sid] = len(seen)
    out = {}
    for k in s:
        out[k] = s[k]
    sensor = dict(_dict(fname, p + ".sensor", s.get("sensor")))
    _str(fname, p + ".sensor.driver", sensor.get("driver"))
    e = _num(fname, p + ".sensor.empty", sensor.get("empty"))
    f = _num(fname, p + ".sensor.full", sensor.get("full"))
    if e == f:
        _fail(fname, p + ".sensor.full", "a value different from sensor.empty", f)
    out["sensor"] = sensor
    for k, dflt in _SLOT_DEFAULTS:
        out[k] = s.get(k, dflt)
    _num(fname, p + ".capacity", out["capacity"], 0, lo_open=True)
    for k in ("lead_time_days", "margin_days", "cooldown_days"):
        _num(fname, p + "." + k, out[k], 0)
    for k in ("floor", "order_ceiling", "rearm"):
        _num(fname, p + "." + k, out[k], 0, 1)
    if out["order_ceiling"] < out["floor"]:
        _fail(fname, p + ".order_ceiling", "a value >= floor (%s)" % out["floor"], out["order_ceiling"])
    if out["rearm"] <= out["floor"]:
        _fail(fname, p + ".rearm", "a value > floor (%s)" % out["floor"], out["rearm"])
    return out


def validate_secrets(d, fname="secrets.json"):
    """Return a new secrets dict; ConfigError naming the key (never the value)."""
    _dict(fname, "(top level)", d, False)
    out = {}
    for k in d:
        out[k] = d[k]
    lwa = d.get("lwa")
    _dict(fname, "lwa", lwa, False)
    for k in ("client_id", "client_secret", "refresh_token"):
        _str(fname, "lwa." + k, lwa.get(k), show=False)
    out["lwa"] = dict(lwa)
    wifi = d.get("wifi")
    if wifi is not None:
        _dict(fname, "wifi", wifi, False)
        _str(fname, "wifi.ssid", wifi.get("ssid"), show=False)
        if not isinstance(wifi.get("password", ""), str):
            _fail(fname, "wifi.password", "a string", 0, False)
        out["wifi"] = dict(wifi)
    return out


# -- boot-time file handling (FlashStore delegates here; unloaded with this module) --


def _valid_state(s):
    return (
        isinstance(s, dict)
        and s.get("v") == 1
        and isinstance(s.get("slots", {}), dict)
        and isinstance(s.get("boots", 0), int)
    )


def remove_stale_tmp(store):
    """Delete leftovers of interrupted writes; returns the names removed."""
    removed = []
    try:
        names = os.listdir(store.root or ".")
    except OSError:
        return removed
    for n in names:
        if n.endswith(".json" + _TMP) or n.endswith(".bak" + _TMP):
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
        data = store.read_bytes(name)
    except OSError:
        raise ConfigError(CONFIG + ": ca_file: file " + repr(name) + " not found") from None
    if b"-----BEGIN CERTIFICATE-----" not in data and data[:1] != b"\x30":
        raise ConfigError(CONFIG + ": ca_file: " + repr(name) + " holds no certificate")
    return data


def load_state(store):
    """state.json, else state.bak, else a fresh default; never raises for corruption."""
    for name in (STATE, STATE_BAK):
        try:
            s = store.read_json(name)
        except OSError:
            if name == STATE and store.exists(STATE_BAK):
                log.warn("store: state.json missing")
            continue
        except ValueError:
            log.warn("store: " + name + " is corrupt")
            continue
        except MemoryError:
            raise
        except Exception:  # anything odd on flash must not brick boot
            log.warn("store: " + name + " unreadable")
            continue
        if not _valid_state(s):
            log.warn("store: " + name + " has an unexpected shape")
            continue
        for k, v in default_state().items():
            s.setdefault(k, v)
        log.info("store: state loaded from " + name)
        return s
    log.info("store: no saved state, starting fresh")
    return default_state()
