# The device's files. Every write is crash-safe: write name.tmp, flush, close,
# then os.rename over the old file (atomic on LittleFS and POSIX). The old file
# is never removed first, so a power cut leaves either the old or the new copy.
import json
import os

from drsagent import log
from drsagent.compat import unload
from drsagent.errors import ConfigError

CONFIG = "config.json"
SECRETS = "secrets.json"
STATE = "state.json"
STATE_BAK = "state.bak"
_TMP = ".tmp"

_MISSING = object()


def default_state():
    return {"v": 1, "boots": 0, "last_device_status": 0, "slots": {}}


def _valid_state(s):
    return (
        isinstance(s, dict)
        and s.get("v") == 1
        and isinstance(s.get("slots", {}), dict)
        and isinstance(s.get("boots", 0), int)
    )


class FlashStore:
    def __init__(self, root=""):
        # "" = current directory, which is the flash root on the device and the unix port.
        self.root = root

    def path(self, name):
        if not self.root:
            return name
        return self.root + "/" + name if not self.root.endswith("/") else self.root + name

    def read_bytes(self, name):
        """File content as bytes; OSError if missing."""
        with open(self.path(name), "rb") as f:
            return f.read()

    def read_json(self, name, default=_MISSING):
        """Parsed JSON. Missing -> OSError, corrupt -> ValueError, unless default is given."""
        try:
            with open(self.path(name)) as f:
                return json.load(f)
        except (OSError, ValueError):
            if default is _MISSING:
                raise
            return default

    def write_json(self, name, obj):
        """Atomically replace name with obj as JSON (tmp, flush, close, rename)."""
        p = self.path(name)
        tmp = p + _TMP
        f = open(tmp, "w")
        try:
            json.dump(obj, f)
            f.flush()
            if hasattr(os, "fsync"):  # CPython: make the data durable before the rename
                os.fsync(f.fileno())
        finally:
            f.close()
        os.rename(tmp, p)

    def exists(self, name):
        try:
            os.stat(self.path(name))
            return True
        except OSError:
            return False

    def remove_stale_tmp(self):
        """Delete leftovers of interrupted writes; returns the names removed."""
        removed = []
        try:
            names = os.listdir(self.root or ".")
        except OSError:
            return removed
        for n in names:
            if n.endswith(".json" + _TMP) or n.endswith(".bak" + _TMP):
                try:
                    os.remove(self.path(n))
                    removed.append(n)
                except OSError:
                    pass
        if removed:
            log.warn("store: removed unfinished writes " + ", ".join(removed))
        return removed

    def _load_checked(self, name, fn):
        # config.py is boot-only code: imported for the check, then unloaded again.
        from drsagent import config

        try:
            try:
                d = self.read_json(name)
            except OSError:
                raise ConfigError(name + ": missing") from None
            except ValueError:
                raise ConfigError(name + ": not valid JSON") from None
            return getattr(config, fn)(d, name)
        finally:
            config = None
            unload("drsagent.config")

    def load_config(self):
        """Validated config.json with defaults; ConfigError if missing/corrupt/invalid."""
        return self._load_checked(CONFIG, "validate_config")

    def load_secrets(self):
        """Validated secrets.json; ConfigError (naming keys, never values)."""
        return self._load_checked(SECRETS, "validate_secrets")

    def save_secrets(self, d):
        self.write_json(SECRETS, d)

    def load_ca(self, config):
        """The CA bundle named by config["ca_file"] as bytes, or None if not configured."""
        name = config.get("ca_file")
        if not name:
            return None
        try:
            data = self.read_bytes(name)
        except OSError:
            raise ConfigError(CONFIG + ": ca_file: file " + repr(name) + " not found") from None
        if b"-----BEGIN CERTIFICATE-----" not in data and data[:1] != b"\x30":
            raise ConfigError(CONFIG + ": ca_file: " + repr(name) + " holds no certificate")
        return data

    def load_state(self):
        """state.json, else state.bak, else a fresh default; never raises for corruption."""
        for name in (STATE, STATE_BAK):
            try:
                s = self.read_json(name)
            except OSError:
                if name == STATE and self.exists(STATE_BAK):
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

    def save_state(self, state):
        """Atomic write of state.json, then the same for state.bak."""
        self.write_json(STATE, state)
        self.write_json(STATE_BAK, state)
