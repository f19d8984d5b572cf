# The device's files. Every write is crash-safe: write name.tmp, flush, close,
# then os.rename over the old file (atomic on LittleFS and POSIX). The old file
# is never removed first, so a power cut leaves either the old or the new copy.
import json
import os

from drsagent.compat import run_once
from drsagent.errors import ConfigError

CONFIG = "config.json"
SECRETS = "secrets.json"
STATE = "state.json"
STATE_BAK = "state.bak"
_TMP = ".tmp"

_MISSING = object()


def default_state():
    return {"v": 1, "boots": 0, "last_device_status": 0, "slots": {}}


def _boot(fn, *args):
    # Boot-time code (validation, state recovery) lives in config.py: imported for
    # the call, then unloaded again so its code does not stay in the heap.
    return run_once("config", fn, *args)


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
        return _boot("remove_stale_tmp", self)

    def _load_checked(self, name, fn):
        try:
            d = self.read_json(name)
        except OSError:
            raise ConfigError(name + ": missing") from None
        except ValueError:
            raise ConfigError(name + ": not valid JSON") from None
        return _boot(fn, d, name)

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
        return _boot("load_ca", self, config)

    def load_state(self):
        """state.json, else state.bak, else a fresh default; never raises for corruption."""
        return _boot("load_state", self)

    def save_state(self, state):
        """Atomic write of state.json, then the same for state.bak."""
        self.write_json(STATE, state)
        self.write_json(STATE_BAK, state)
