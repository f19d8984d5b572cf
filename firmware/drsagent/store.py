# The device's files. Every write is crash-safe: write name.tmp, flush, close,
# then os.rename over the old file (atomic on LittleFS and POSIX). The old file
# is never removed first, so a power cut leaves either the old or the new copy.
import json
import os


class FlashStore:
    """config.json, secrets.json and state.json (+ state.bak) under `root`
    ("" = the current directory: the flash root on the device and the unix port).

    Only what the loop needs stays in the heap: reading, the atomic write and the
    saves. Loading and checking the files (load_config, load_secrets, load_state,
    load_ca, remove_stale_tmp, board_options) are functions of config.py taking the
    store, called through compat.run_once: imported for the call, unloaded after it."""

    def __init__(self, root=""):
        self.root = root

    def path(self, name):
        r = self.root
        return r + "/" + name if r and r[-1] != "/" else r + name

    def read_json(self, name):
        """Parsed JSON. Missing -> OSError, corrupt -> ValueError."""
        with open(self.path(name)) as f:
            return json.load(f)

    def write_json(self, name, data):
        """Atomically replace name with obj as JSON (tmp, flush, close, rename)."""
        p = self.path(name)
        f = open(p + ".tmp", "w")
        try:
            json.dump(data, f)
            f.flush()
            if hasattr(os, "fsync"):  # CPython: make the data durable before the rename
                os.fsync(f.fileno())
        finally:
            f.close()
        os.rename(p + ".tmp", p)

    def save_secrets(self, d):
        self.write_json("secrets.json", d)

    def save_state(self, state):
        """Atomic write of state.json, then the same for state.bak."""
        self.write_json("state.json", state)
        self.write_json("state.bak", state)
