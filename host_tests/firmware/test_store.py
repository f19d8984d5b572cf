import builtins
import json
import os

import pytest
from drsagent import config, errors, store
from drsagent.config import validate_config, validate_secrets
from drsagent.store import FlashStore
from script_server import needs_micropython

from host_tests.fake_tokens import REFRESH

CONFIG = {
    "device": {"serial": "PRN-000123", "model": "acme-x1"},
    "endpoints": {
        "drs": "https://dash-replenishment-service-na.amazon.com",
        "lwa": "https://api.amazon.com/auth/o2/token",
    },
    "ca_file": "amazon_roots.pem",
    "slots": [
        {
            "id": "toner-black",
            "sensor": {"driver": "hx711", "dout": 16, "sck": 17, "empty": 12000, "full": 8e5},
        },
        {"id": "toner-cyan", "sensor": {"driver": "sim", "empty": 0, "full": 1}, "floor": 0.2},
    ],
}
SECRETS = {
    "wifi": {"ssid": "home", "password": "wifi-pass-123"},
    "lwa": {
        "client_id": "amzn1.application-oa2-client.abc",
        "client_secret": "topsecret-client-value",
        "refresh_token": f"{REFRESH}refresh-value-1",
    },
}
OLD = {"v": 1, "boots": 3, "last_device_status": 100, "slots": {"a": {"st": "idle"}}}
NEW = {"v": 1, "boots": 4, "last_device_status": 200, "slots": {"a": {"st": "ordering"}}}


def test_write_json_roundtrip_and_no_tmp_left(tmp_path):
    fs = FlashStore(str(tmp_path))
    fs.write_json("x.json", {"a": [1, 2], "b": "caf\u00e9"})
    fs.write_json("x.json", {"a": 3})
    assert fs.read_json("x.json") == {"a": 3}
    assert sorted(os.listdir(tmp_path)) == ["x.json"]


def test_write_json_renames_over_the_old_file_without_removing_it(tmp_path, monkeypatch):
    calls = []
    real_rename, real_remove = os.rename, os.remove
    monkeypatch.setattr(
        os, "rename", lambda a, b: (calls.append(("rename", a, b)), real_rename(a, b))
    )
    monkeypatch.setattr(os, "remove", lambda p: (calls.append(("remove", p)), real_remove(p)))
    monkeypatch.setattr(os, "unlink", lambda p: (calls.append(("unlink", p)), real_remove(p)))
    fs = FlashStore(str(tmp_path))
    fs.write_json("state.json", OLD)
    fs.save_state(NEW)
    p = str(tmp_path / "state.json")
    b = str(tmp_path / "state.bak")
    assert calls == [
        ("rename", p + ".tmp", p),
        ("rename", p + ".tmp", p),
        ("rename", b + ".tmp", b),
    ]


def test_root_empty_means_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    FlashStore().save_state(NEW)
    assert json.loads((tmp_path / "state.json").read_text()) == NEW
    assert json.loads((tmp_path / "state.bak").read_text()) == NEW


def test_read_json_missing_and_corrupt(tmp_path):
    fs = FlashStore(str(tmp_path))
    with pytest.raises(OSError):
        fs.read_json("nope.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError):
        fs.read_json("bad.json")


# -- state fallbacks ---------------------------------------------------------------------


def test_load_state_prefers_state_json(tmp_path, captured_log):
    fs = FlashStore(str(tmp_path))
    fs.write_json("state.json", NEW)
    fs.write_json("state.bak", OLD)
    assert config.load_state(fs) == NEW
    assert "I store: state loaded from state.json" in captured_log


@pytest.mark.parametrize(
    "damage",
    ["{truncated", "", "\x00\xff\x00", "[1, 2]", '{"v": 2, "slots": {}}', '{"v":1,"slots":[]}'],
)
def test_corrupt_state_falls_back_to_bak(tmp_path, captured_log, damage):
    fs = FlashStore(str(tmp_path))
    fs.write_json("state.bak", OLD)
    (tmp_path / "state.json").write_bytes(damage.encode("latin-1"))
    assert config.load_state(fs) == OLD
    assert any(line.startswith("W store: state.json") for line in captured_log)
    assert "I store: state loaded from state.bak" in captured_log


def test_missing_state_json_uses_bak(tmp_path, captured_log):
    fs = FlashStore(str(tmp_path))
    fs.write_json("state.bak", OLD)
    assert config.load_state(fs) == OLD
    assert "W store: state.json missing" in captured_log


def test_nothing_usable_gives_fresh_default(tmp_path, captured_log):
    fs = FlashStore(str(tmp_path))
    assert config.load_state(fs) == {"v": 1, "boots": 0, "last_device_status": 0, "slots": {}}
    assert captured_log[-1] == "I store: no saved state, starting fresh"
    (tmp_path / "state.json").write_text("garbage")
    (tmp_path / "state.bak").write_text("more garbage")
    assert config.load_state(fs) == {"v": 1, "boots": 0, "last_device_status": 0, "slots": {}}
    # a fresh default is a new object each time (callers mutate it)
    assert config.load_state(fs) is not config.load_state(fs)


def test_loaded_state_gets_missing_keys(tmp_path):
    fs = FlashStore(str(tmp_path))
    fs.write_json("state.json", {"v": 1, "slots": {"a": {"st": "idle"}}})
    assert config.load_state(fs) == {
        "v": 1,
        "boots": 0,
        "last_device_status": 0,
        "slots": {"a": {"st": "idle"}},
    }


def test_remove_stale_tmp(tmp_path):
    fs = FlashStore(str(tmp_path))
    for n in ("state.json.tmp", "state.bak.tmp", "secrets.json.tmp", "keep.txt", "notes.tmp"):
        (tmp_path / n).write_text("x")
    assert sorted(config.remove_stale_tmp(fs)) == [
        "secrets.json.tmp",
        "state.bak.tmp",
        "state.json.tmp",
    ]
    assert sorted(os.listdir(tmp_path)) == ["keep.txt", "notes.tmp"]


# -- power loss at every step ---------------------------------------------------------


_real_rename = os.rename


class PowerCut(BaseException):  # noqa: N818 - not an Exception: nothing may catch it
    pass


class Flash:
    """Stands in for the flash: counts every step of a write and cuts power at step `cut`.

    Data reaches the "flash" only on flush/close (as with LittleFS's cache); a cut
    during a flush leaves half of the pending data written (a torn write); after a
    cut nothing else touches the disk, like a dead CPU.
    """

    def __init__(self, cut=None):
        self.cut = cut
        self.steps = 0
        self.dead = False

    def tick(self):
        if self.dead:
            raise PowerCut
        self.steps += 1
        if self.steps == self.cut:
            self.dead = True
            return True
        return False

    def open(self, path, mode="r", *a, **kw):
        if "w" not in mode:
            return builtins.open(path, mode, *a, **kw)
        if self.tick():
            raise PowerCut
        builtins.open(path, "w").close()  # O_TRUNC hits the disk at once
        return CutFile(self, path)

    def rename(self, a, b):
        if self.tick():
            raise PowerCut
        _real_rename(a, b)

    def fsync(self, fd):
        if self.tick():
            raise PowerCut


class CutFile:
    def __init__(self, flash, path):
        self.flash, self.path, self.pending = flash, path, ""

    def write(self, s):
        if self.flash.tick():
            raise PowerCut
        self.pending += s
        return len(s)

    def _sync(self, torn):
        data = self.pending[: len(self.pending) // 2] if torn else self.pending
        with builtins.open(self.path, "a") as f:
            f.write(data)
        self.pending = ""

    def flush(self):
        torn = self.flash.tick()
        self._sync(torn)
        if torn:
            raise PowerCut

    def fileno(self):
        return -1

    def close(self):
        if self.flash.dead:
            raise PowerCut
        self.flush()


def _run_with_cut(monkeypatch, cut, action):
    flash = Flash(cut)
    with monkeypatch.context() as m:
        m.setattr(store, "open", flash.open, raising=False)
        m.setattr(store.os, "rename", flash.rename)
        m.setattr(store.os, "fsync", flash.fsync)
        try:
            action()
        except PowerCut:
            return flash, True
    return flash, False


def _count_steps(tmp_path, monkeypatch, prepare, action):
    prepare()
    flash, cut = _run_with_cut(monkeypatch, None, action)
    assert not cut
    return flash.steps


def test_power_cut_at_every_step_of_save_state(tmp_path, monkeypatch, captured_log):
    fs = FlashStore(str(tmp_path))

    def prepare():
        for n in os.listdir(tmp_path):
            os.remove(tmp_path / n)
        fs.save_state(OLD)

    total = _count_steps(tmp_path, monkeypatch, prepare, lambda: fs.save_state(NEW))
    assert total >= 10  # open, several writes, flush, fsync, close, rename per file
    seen = set()
    for k in range(1, total + 1):
        prepare()
        _, cut = _run_with_cut(monkeypatch, k, lambda: fs.save_state(NEW))
        assert cut
        # reboot
        boot = FlashStore(str(tmp_path))
        config.remove_stale_tmp(boot)
        got = config.load_state(boot)
        assert got in (OLD, NEW), f"state lost with power cut at step {k}: {got}"
        seen.add(json.dumps(got, sort_keys=True))
        assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    # early cuts keep the old state, late cuts (after state.json's rename) the new one
    assert len(seen) == 2


def test_power_cut_at_every_step_of_save_secrets(tmp_path, monkeypatch):
    """secrets.json has no backup copy: only the tmp+rename protocol protects it."""
    fs = FlashStore(str(tmp_path))
    new = json.loads(json.dumps(SECRETS))
    new["lwa"]["refresh_token"] = f"{REFRESH}refresh-value-2"

    def prepare():
        fs.write_json("secrets.json", SECRETS)

    total = _count_steps(tmp_path, monkeypatch, prepare, lambda: fs.save_secrets(new))
    outcomes = []
    for k in range(1, total + 1):
        prepare()
        _run_with_cut(monkeypatch, k, lambda: fs.save_secrets(new))
        got = config.load_secrets(FlashStore(str(tmp_path)))
        assert got in (SECRETS, new), f"secrets lost with power cut at step {k}"
        outcomes.append(got == new)
    # a cut at step k stops before step k completes: until the final rename has
    # happened, the old file is what a reboot sees; after it, the new one
    assert outcomes == [False] * total
    prepare()
    fs.save_secrets(new)
    assert config.load_secrets(FlashStore(str(tmp_path))) == new


def test_power_cut_harness_catches_an_unsafe_writer(tmp_path, monkeypatch):
    """The harness is able to fail: writing in place loses secrets.json on a cut."""

    def unsafe_write_json(self, name, obj):
        f = getattr(store, "open", open)(self.path(name), "w")
        json.dump(obj, f)
        f.close()

    monkeypatch.setattr(FlashStore, "write_json", unsafe_write_json)
    fs = FlashStore(str(tmp_path))
    new = {"lwa": dict(SECRETS["lwa"], refresh_token=f"{REFRESH}x")}
    lost = 0
    for k in range(1, 6):
        fs.write_json("secrets.json", SECRETS)
        _run_with_cut(monkeypatch, k, lambda: fs.save_secrets(new))
        try:
            config.load_secrets(FlashStore(str(tmp_path)))
        except errors.ConfigError:
            lost += 1
    assert lost > 0


# -- config and secrets ---------------------------------------------------------------------


def test_load_config_fills_in_the_schema_defaults(tmp_path):
    # The defaults live in one place (config.py's tables, hx711's SENSOR_KEYS); the
    # code that uses a key reads it plainly. What the file says is kept as it is.
    fs = FlashStore(str(tmp_path))
    fs.write_json("config.json", CONFIG)
    loaded = config.load_config(fs)
    assert (loaded["loop_interval_s"], loaded["http_timeout_s"]) == (3600, 10)
    assert (loaded["test_orders"], loaded["report_hour_utc"]) == (False, 3)
    black, cyan = loaded["slots"]
    assert (black["floor"], cyan["floor"]) == (0.1, 0.2)
    assert (black["order_ceiling"], black["rearm"], black["capacity"]) == (0.5, 0.6, 1.0)
    assert black["sensor"]["samples"] == 5 and "samples" not in cyan["sensor"]
    assert black["sensor"]["dout"] == 16 and cyan["sensor"]["full"] == 1


def test_load_config_missing_or_corrupt(tmp_path):
    fs = FlashStore(str(tmp_path))
    with pytest.raises(errors.ConfigError, match=r"^config\.json: missing$"):
        config.load_config(fs)
    (tmp_path / "config.json").write_text("{")
    with pytest.raises(errors.ConfigError, match=r"^config\.json: not valid JSON$"):
        config.load_config(fs)


def _cfg(**changes):
    c = json.loads(json.dumps(CONFIG))
    for path, value in changes.items():
        node = c
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        last = keys[-1]
        if value is _DEL:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return c


_DEL = object()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"device__serial": _DEL},
            "config.json: device.serial: missing, expected a non-empty string",
        ),
        ({"device": "x"}, "config.json: device: expected an object, got 'x'"),
        (
            {"endpoints__drs": "ftp://x"},
            "config.json: endpoints.drs: expected an http:// or https:// URL",
        ),
        ({"endpoints__lwa": _DEL}, "config.json: endpoints.lwa: missing"),
        ({"ca_file": _DEL}, "config.json: ca_file: missing, expected a non-empty string"),
        ({"slots": []}, "config.json: slots: expected a non-empty list, got []"),
        (
            {"slots__1__lead_time_days": "abc"},
            "config.json: slots[1].lead_time_days: expected a number >= 0, got 'abc'",
        ),
        (
            {"slots__1__lead_time_days": True},
            "config.json: slots[1].lead_time_days: expected a number",
        ),
        ({"slots__0__id": _DEL}, "config.json: slots[0].id: missing"),
        ({"slots__1__id": "toner-black"}, "config.json: slots[1].id: expected a unique slot id"),
        ({"slots__1__sensor__driver": _DEL}, "config.json: slots[1].sensor.driver: missing"),
        (
            {"slots__0__sensor__full": 12000},
            "config.json: slots[0].sensor.full: expected a value different",
        ),
        (
            {"slots__0__sensor__empty": None},
            "config.json: slots[0].sensor.empty: missing, expected a number",
        ),
        (
            {"slots__0__floor": 1.5},
            "config.json: slots[0].floor: expected a number in [0, 1], got 1.5",
        ),
        ({"slots__0__rearm": 0.05}, "config.json: slots[0].rearm: expected a value > floor"),
        (
            {"report_hour_utc": 24},
            "config.json: report_hour_utc: expected an integer hour 0..23, got 24",
        ),
        ({"test_orders": "yes"}, "config.json: test_orders: expected true or false"),
        ({"http_timeout_s": 0}, "config.json: http_timeout_s: expected a number > 0, got 0"),
        (
            {"endpoints__drs": "http://:8080"},
            "config.json: endpoints.drs: expected an http:// or https:// URL with a host"
            " (and a port 1..65535), got 'http://:8080'",
        ),
        (
            {"endpoints__lwa": "https://api.amazon.com:44x/auth/o2/token"},
            "config.json: endpoints.lwa: expected an http:// or https:// URL with a host",
        ),
        (
            {"endpoints__lwa": "https://api.amazon.com:0/auth/o2/token"},
            "config.json: endpoints.lwa: expected an http:// or https:// URL",
        ),
        (
            {"endpoints__drs": "https://[::1]:443/"},
            "config.json: endpoints.drs: expected an http:// or https:// URL",
        ),
        ({"endpoints__drs": "https://"}, "config.json: endpoints.drs: expected an http://"),
        (
            {"slots__0__sensor__spike": "high"},
            "config.json: slots[0].sensor.spike: expected a number > 0, got 'high'",
        ),
        (
            {"slots__0__sensor__spike": 0},
            "config.json: slots[0].sensor.spike: expected a number > 0, got 0",
        ),
        (
            {"slots__1__sensor__stuck_readings": -1},
            "config.json: slots[1].sensor.stuck_readings: expected a number >= 0, got -1",
        ),
        (
            {"slots__0__sensor__fault_after": 2.5},
            "config.json: slots[0].sensor.fault_after: expected an integer >= 1, got 2.5",
        ),
        (
            {"slots__0__sensor__samples": 0},
            "config.json: slots[0].sensor.samples: expected an integer >= 1, got 0",
        ),
        (
            {"slots__0__sensor__samples": True},
            "config.json: slots[0].sensor.samples: expected an integer >= 1, got True",
        ),
    ],
)
def test_config_validation_messages(changes, message):
    with pytest.raises(errors.ConfigError) as ei:
        validate_config(_cfg(**changes))
    assert str(ei.value).startswith(message)


def test_sensor_tuning_keys_and_ports_in_range_are_accepted():
    c = _cfg(
        endpoints={"drs": "https://drs.example:8443/base", "lwa": "https://api.amazon.com/t"},
    )
    c["slots"][0]["sensor"].update(stuck_readings=0, spike=0.25, fault_after=5, samples=10)
    c["slots"][1]["sensor"].update(stuck_readings=96, spike=2)
    assert validate_config(c) is c


def test_http_endpoints_need_no_ca_file():
    c = _cfg(
        ca_file=_DEL,
        allow_plain_http=True,
        endpoints={"drs": "http://127.0.0.1:8080", "lwa": "http://127.0.0.1:8080/auth/o2/token"},
    )
    assert "ca_file" not in validate_config(c)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda s: s["lwa"].pop("client_secret"), "secrets.json: lwa.client_secret: missing"),
        (
            lambda s: s["lwa"].update(refresh_token=12345678),
            "secrets.json: lwa.refresh_token: expected a non-empty string",
        ),
        (
            lambda s: s["lwa"].update(client_id=""),
            "secrets.json: lwa.client_id: expected a non-empty string",
        ),
        (
            lambda s: s.update(lwa=f"{REFRESH}in-the-wrong-place"),
            "secrets.json: lwa: expected an object",
        ),
        (
            lambda s: s["wifi"].update(password=["wifi-pass-123"]),
            "secrets.json: wifi.password: expected a string",
        ),
        (lambda s: s.update(wifi="wifi-pass-123"), "secrets.json: wifi: expected an object"),
    ],
)
def test_secrets_validation_never_shows_values(mutate, message):
    s = json.loads(json.dumps(SECRETS))
    mutate(s)
    with pytest.raises(errors.ConfigError) as ei:
        validate_secrets(s)
    text = str(ei.value)
    assert text.startswith(message)
    for secret in ("topsecret", REFRESH, "wifi-pass", "12345678", "amzn1.application"):
        assert secret not in text


@pytest.mark.parametrize("top", [[], None, "x", 3])
def test_a_file_that_is_not_a_json_object_is_named(top):
    for validate, name in ((validate_config, "config.json"), (validate_secrets, "secrets.json")):
        with pytest.raises(errors.ConfigError) as ei:
            validate(top)
        text = str(ei.value)  # null reads as "missing, expected a JSON object"
        assert text.startswith(f"{name}: (top level): ")
        assert "expected a JSON object" in text
    c = _cfg()
    c["slots"][1] = 5
    with pytest.raises(
        errors.ConfigError, match=r"^config.json: slots\[1\]: expected a JSON object"
    ):
        validate_config(c)


def test_secrets_roundtrip(tmp_path):
    fs = FlashStore(str(tmp_path))
    fs.save_secrets(SECRETS)
    assert config.load_secrets(fs) == SECRETS
    with pytest.raises(errors.ConfigError, match="secrets.json: missing"):
        config.load_secrets(FlashStore(str(tmp_path / "nowhere")))


def test_load_ca(tmp_path, tls_material):
    fs = FlashStore(str(tmp_path))
    cfg = validate_config(CONFIG)
    with pytest.raises(errors.ConfigError, match="ca_file: file 'amazon_roots.pem' not found"):
        config.load_ca(fs, cfg)
    (tmp_path / "amazon_roots.pem").write_bytes(b"")
    with pytest.raises(errors.ConfigError, match="holds no certificate"):
        config.load_ca(fs, cfg)
    (tmp_path / "amazon_roots.pem").write_bytes(tls_material["bundle_pem"])
    assert config.load_ca(fs, cfg) == tls_material["bundle_pem"]
    assert config.load_ca(fs, {"ca_file": None}) is None


# -- the same on MicroPython ------------------------------------------------------------------


@pytest.mark.micropython
@needs_micropython
def test_store_on_micropython(mpy, tmp_path):
    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "config.json").write_text(json.dumps(CONFIG))
    (flash / "secrets.json").write_text(json.dumps(SECRETS))
    (flash / "state.json.tmp").write_text("{half")
    out = mpy(
        f"""
        import json, os
        from drsagent import log
        from drsagent.compat import run_once
        from drsagent.store import FlashStore
        lines = []
        log.set_log_sink(lines.append)
        fs = FlashStore()
        r = {{}}
        r["removed"] = run_once("config", "remove_stale_tmp", fs)
        r["fresh"] = run_once("config", "load_state", fs)
        fs.save_state({json.dumps(OLD)})
        fs.save_state({json.dumps(NEW)})
        r["files"] = sorted(os.listdir("."))
        r["loaded"] = run_once("config", "load_state", fs)
        with open("state.json", "w") as f:
            f.write("{{garbage")
        r["bak"] = run_once("config", "load_state", fs)
        cfg = run_once("config", "load_config", fs)
        r["slot1"] = cfg["slots"][1]
        r["secrets_ok"] = run_once("config", "load_secrets", fs)["lwa"]["client_id"]
        with open("config.json", "w") as f:
            f.write(json.dumps({{"device": {{}}, "endpoints": {{}}, "slots": []}}))
        try:
            run_once("config", "load_config", fs)
        except Exception as e:
            r["cfg_err"] = [type(e).__name__, str(e)]
        r["log"] = lines
        print(json.dumps(r))
        """,
        cwd=flash,
    )
    r = json.loads(out)
    assert r["removed"] == ["state.json.tmp"]
    assert r["fresh"] == {"v": 1, "boots": 0, "last_device_status": 0, "slots": {}}
    assert r["files"] == ["config.json", "secrets.json", "state.bak", "state.json"]
    assert r["loaded"] == NEW
    assert r["bak"] == NEW
    assert r["slot1"] == CONFIG["slots"][1]
    assert r["secrets_ok"] == SECRETS["lwa"]["client_id"]
    assert r["cfg_err"] == [
        "ConfigError",
        "config.json: device.serial: missing, expected a non-empty string",
    ]
    assert "W store: state.json is corrupt" in r["log"]
    assert "I store: state loaded from state.bak" in r["log"]


def test_boot_call_typo_is_an_attribute_error_at_the_call(tmp_path):
    # No forwarding of unknown names into config.py: a typo fails where it is made,
    # not later as a config-file error.
    fs = FlashStore(str(tmp_path))
    with pytest.raises(AttributeError):
        fs.load_confg()
