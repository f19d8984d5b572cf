# The setup console on the USB serial port (docs/provisioning.md): Improv Wi-Fi serial
# for the Wi-Fi settings plus our own setup frames (JSON) for the configuration, the
# slots, calibration, LwA credentials, status, a DRS check and factory reset.
#
# It owns the port while the device loop waits for its next pass (serve() replaces
# the loop's sleep), so it answers within a second with the REPL disabled, and log
# lines share the port (they always end their line before a frame goes out).
# Every change is validated as a whole and written with FlashStore.write_json
# (tmp + rename): a bad or cut provisioning leaves the previous files in place.
# Secrets go in, never out: replies say "present", never a value.
import gc
import json
import sys
import time

from drsagent import VERSION, improv, log
from drsagent.compat import collect, const, run_once

_FRAME_MAX = const(2048)  # longest frame accepted (a slot list of a few slots)
_FRAME_GAP_MS = const(500)  # a frame quiet this long is dropped as truncated
_SETTLE_MS = const(2000)  # after a change, wait this long for more before the reload
_WIFI_CONNECT_S = const(10)  # Improv "send Wi-Fi settings": give up after this
_SSID_MAX = const(32)  # IEEE 802.11 limits, in bytes
_PASSWORD_MAX = const(63)
_CTRL_C = const(3)

# Improv states and errors
_STATE_READY = const(0x02)  # "authorized": ready to take Wi-Fi settings
_STATE_PROVISIONING = const(0x03)
_STATE_PROVISIONED = const(0x04)
_ERROR_NONE = const(0x00)
_ERROR_INVALID_RPC = const(0x01)
_ERROR_UNKNOWN_RPC = const(0x02)
_ERROR_UNABLE_TO_CONNECT = const(0x03)
_ERROR_UNKNOWN = const(0xFF)
# Improv RPC commands
_RPC_WIFI = const(0x01)
_RPC_STATE = const(0x02)
_RPC_INFO = const(0x03)
_RPC_SCAN = const(0x04)

_CONFIG = "config.json"
_SECRETS = "secrets.json"
_FACTORY_FILES = ("config.json", "secrets.json", "state.json", "state.bak")


class SetupError(Exception):
    """A request the console refuses; the message goes back to the desktop."""


def _keyboard_interrupt(char):
    try:
        import micropython

        micropython.kbd_intr(char)
    except (ImportError, AttributeError):  # CPython
        pass


def _wifi():
    """The board's Wi-Fi driver, or None on a port without Wi-Fi."""
    try:
        from drsagent.hal import wifi

        return wifi
    except ImportError:
        return None


class Console:
    def __init__(self, store, clock):
        import select

        self.store = store
        self.clock = clock
        self.reader = improv.FrameReader(_FRAME_MAX)
        self.stdin = getattr(sys.stdin, "buffer", sys.stdin)
        self.stdout = getattr(sys.stdout, "buffer", sys.stdout)
        self.poller = select.poll()
        self.poller.register(sys.stdin, select.POLLIN)
        self.agent = None
        self.changes = 0  # files written by this serve() call

    # -- the port ---------------------------------------------------------------
    def serve(self, seconds, agent=None):
        """Answer frames for `seconds` (the loop's wait); True when the files changed.

        Returns early, _SETTLE_MS after the last change, so the agent reloads soon."""
        self.agent = agent
        self.changes = 0
        now = time.ticks_ms
        deadline = time.ticks_add(now(), int(seconds * 1000))
        reader = self.reader
        # 0x03 is a frame's type byte: no Ctrl-C from the console while we own it.
        _keyboard_interrupt(-1)
        try:
            while True:
                left = time.ticks_diff(deadline, now())
                if left <= 0:
                    break
                pending = reader.pending()
                ready = self.poller.poll(_FRAME_GAP_MS if pending else min(left, 1000))
                if not ready:
                    if pending:
                        reader.drop()
                        self._refuse(pending, "truncated frame dropped")
                    continue
                b = self.stdin.read(1)
                if not b:  # the port closed (a pipe on the desktop): just wait
                    time.sleep_ms(min(left, 1000))
                    continue
                b = b[0]
                if b == _CTRL_C and not pending:
                    # Outside a frame it is a Ctrl-C: stop to the REPL (mpremote).
                    raise KeyboardInterrupt
                frame = reader.feed(b)
                if frame is not None:
                    changes = self.changes
                    try:
                        self._dispatch(frame)
                    except Exception as e:  # the console must not stop the device loop
                        log.error("console: %s: %s" % (type(e).__name__, e))
                    if self.changes != changes:  # more may follow: then reload
                        deadline = time.ticks_add(now(), _SETTLE_MS)
        finally:
            _keyboard_interrupt(_CTRL_C)
            self.agent = None
        return self.changes > 0

    def _send(self, header, kind, data):
        self.stdout.write(improv.encode(header, kind, data))
        if hasattr(self.stdout, "flush"):
            self.stdout.flush()

    def _reply(self, obj):
        self._send(improv.SETUP, improv.TYPE_REPLY, json.dumps(obj).encode())

    def _refuse(self, header, why):
        """A clear error on both sides: a log line here, an error frame there."""
        log.warn("console: " + why)
        if header == improv.IMPROV:
            self._send(improv.IMPROV, improv.TYPE_ERROR, bytes((_ERROR_INVALID_RPC,)))
        else:
            self._reply({"ok": False, "error": why})

    def _dispatch(self, frame):
        header, kind, data = frame
        if data is None:
            why = "bad checksum" if kind == improv.DROPPED_CHECKSUM else "malformed frame"
            self._refuse(header, why + ", frame dropped")
        elif header == improv.IMPROV:
            self._improv(kind, data)
        elif kind != improv.TYPE_REQUEST:
            self._refuse(header, "not a request frame")
        else:
            self._setup(data)
        collect()

    # -- Improv Wi-Fi -----------------------------------------------------------
    def _improv_state(self):
        wifi = _wifi()
        connected = wifi is None or wifi.is_connected()
        return _STATE_PROVISIONED if connected else _STATE_READY

    def _improv_error(self, code):
        self._send(improv.IMPROV, improv.TYPE_ERROR, bytes((code,)))

    def _improv_result(self, command, strings):
        data = bytearray((command, 0))
        for s in strings:
            s = s.encode()
            data.append(len(s))
            data.extend(s)
        data[1] = len(data) - 2
        self._send(improv.IMPROV, improv.TYPE_RESULT, data)

    def _improv(self, kind, data):
        if kind != improv.TYPE_RPC:
            return  # state/error/result frames are ours to send, not to receive
        if len(data) < 2 or data[1] != len(data) - 2:
            self._refuse(improv.IMPROV, "Improv RPC: length does not match its data")
            return
        command = data[0]
        if command == _RPC_WIFI:
            self._improv_wifi(data[2:])
        elif command == _RPC_STATE:
            self._improv_error(_ERROR_NONE)
            self._send(improv.IMPROV, improv.TYPE_STATE, bytes((self._improv_state(),)))
        elif command == _RPC_INFO:
            serial = self._serial() or "drsagent"
            self._improv_result(command, ("drsagent", VERSION, sys.platform, serial))
        elif command == _RPC_SCAN:
            wifi = _wifi()
            if wifi is None:
                self._improv_error(_ERROR_UNKNOWN_RPC)
                return
            for ssid, rssi, secured in wifi.scan():
                self._improv_result(command, (ssid, str(rssi), "YES" if secured else "NO"))
            self._improv_result(command, ())  # an empty result ends the list
        else:
            log.warn("console: unknown Improv RPC 0x%02x" % command)
            self._improv_error(_ERROR_UNKNOWN_RPC)

    def _improv_wifi(self, payload):
        # ssid length, ssid, password length, password: lengths must add up exactly.
        n = payload[0] if payload else 0
        m = payload[n + 1] if len(payload) > n + 1 else -1
        if not n or m < 0 or len(payload) != n + m + 2:
            self._refuse(improv.IMPROV, "Improv Wi-Fi settings: malformed")
            return
        if n > _SSID_MAX or m > _PASSWORD_MAX:
            self._refuse(
                improv.IMPROV,
                "Improv Wi-Fi settings: SSID over %d or password over %d bytes"
                % (_SSID_MAX, _PASSWORD_MAX),
            )
            return
        try:
            ssid = payload[1 : n + 1].decode()
            password = payload[n + 2 :].decode()
        except UnicodeError:
            self._refuse(improv.IMPROV, "Improv Wi-Fi settings: not UTF-8")
            return
        wifi = _wifi()
        if wifi is None:
            self._improv_error(_ERROR_UNKNOWN_RPC)
            return
        secrets = self._read(_SECRETS, {})
        secrets["wifi"] = {"ssid": ssid, "password": password}
        log.secret("wifi_password", password)
        self._send(improv.IMPROV, improv.TYPE_STATE, bytes((_STATE_PROVISIONING,)))
        wifi.disconnect()  # the new network, not whatever we are on
        if not wifi.connect(secrets, _WIFI_CONNECT_S):
            log.warn("console: cannot connect to Wi-Fi %r; settings not saved" % ssid)
            self._improv_error(_ERROR_UNABLE_TO_CONNECT)
            self._send(improv.IMPROV, improv.TYPE_STATE, bytes((_STATE_READY,)))
            return
        try:
            self.store.write_json(_SECRETS, secrets)
        except OSError as e:
            log.error("console: cannot save Wi-Fi settings: %s" % e)
            self._improv_error(_ERROR_UNKNOWN)
            return
        self.changes += 1
        log.info("console: Wi-Fi %r saved" % ssid)
        self._send(improv.IMPROV, improv.TYPE_STATE, bytes((_STATE_PROVISIONED,)))
        self._improv_result(_RPC_WIFI, ())

    # -- setup frames -----------------------------------------------------------
    def _setup(self, data):
        try:
            request = json.loads(data)
            if not isinstance(request, dict):
                raise ValueError
        except ValueError:
            self._refuse(improv.SETUP, "setup frame: not a JSON object")
            return
        command = request.get("cmd")
        handler = _COMMANDS.get(command)
        if handler is None:
            self._refuse(improv.SETUP, "setup frame: unknown command %r" % (command,))
            return
        try:
            reply = handler(self, request) or {}
        except SetupError as e:
            self._refuse(improv.SETUP, "%s: %s" % (command, e))
            return
        except Exception as e:  # ConfigError, OSError, network errors: say why, go on
            self._refuse(improv.SETUP, "%s: %s: %s" % (command, type(e).__name__, e))
            return
        reply["ok"] = True
        self._reply(reply)

    def _read(self, name, default):
        try:
            d = self.store.read_json(name)
        except (OSError, ValueError):
            return default
        return d if isinstance(d, dict) else default

    def _serial(self):
        device = self._read(_CONFIG, {}).get("device")
        return device.get("serial") if isinstance(device, dict) else None

    def _write_config(self, config):
        run_once("config", "validate_config", config)  # ConfigError says what is wrong
        self.store.write_json(_CONFIG, config)
        self.changes += 1

    def _current_config(self):
        config = self._read(_CONFIG, None)
        if config is None:
            raise SetupError("no config.json yet: send the whole configuration first")
        return config

    def config(self, request):
        config = request.get("config")
        if not isinstance(config, dict):
            raise SetupError("expected {'config': {...}}")
        self._write_config(config)
        log.info("console: config.json saved")

    def slots(self, request):
        slots = request.get("slots")
        if not isinstance(slots, list):
            raise SetupError("expected {'slots': [...]}")
        config = self._current_config()
        config["slots"] = slots
        self._write_config(config)
        log.info("console: %d slot(s) saved" % len(slots))

    def calibrate(self, request):
        """Store a slot's empty or full reading: read now, or a given value."""
        point = request.get("point")
        if point not in ("empty", "full"):
            raise SetupError("point must be 'empty' or 'full'")
        config = self._current_config()
        slot = None
        for c in config.get("slots") or ():
            if isinstance(c, dict) and c.get("id") == request.get("slot"):
                slot = c
        if slot is None:
            raise SetupError("no slot %r" % (request.get("slot"),))
        raw = request.get("value")
        if raw is None:
            raw = run_once("boot", "make_sensor", slot)()
            if raw is None:
                raise SetupError("the sensor of slot %r does not answer" % slot["id"])
        slot["sensor"][point] = raw
        self._write_config(config)
        log.info("console: slot %s %s = %s" % (slot["id"], point, raw))
        return {"raw": raw}

    def lwa(self, request):
        secrets = self._read(_SECRETS, {})
        lwa = {}
        for key in ("client_id", "client_secret", "refresh_token"):
            lwa[key] = request.get(key)
        secrets["lwa"] = lwa
        run_once("config", "validate_secrets", secrets)  # names a key, never a value
        self.store.write_json(_SECRETS, secrets)
        self.changes += 1
        log.info("console: LwA credentials saved")

    def status(self, request):
        config = self._read(_CONFIG, {})
        secrets = self._read(_SECRETS, {})
        wifi = secrets.get("wifi") if isinstance(secrets.get("wifi"), dict) else {}
        lwa = secrets.get("lwa") if isinstance(secrets.get("lwa"), dict) else {}
        driver = _wifi()
        agent = self.agent
        state = agent.state.get("slots", {}) if agent is not None else {}
        slots = []
        for c in config.get("slots") or ():
            if isinstance(c, dict):
                d = state.get(c.get("id")) or {}
                slots.append({"id": c.get("id"), "state": d.get("st"), "level": d.get("l")})
        error = agent.error if agent is not None else None
        try:
            run_once("config", "validate_config", config)
        except Exception as e:
            error = str(e) if config else "config.json: missing (not provisioned)"
        free = getattr(gc, "mem_free", None)  # MicroPython only
        return {
            "serial": self._serial(),
            "firmware": VERSION,
            "platform": sys.platform,
            "heap_free": free() if free else None,
            "clock_set": self.clock.is_set(),
            "mode": "running" if agent is not None and agent.config is not None else "setup",
            "wifi": {
                "ssid": wifi.get("ssid"),
                "connected": driver is None or driver.is_connected(),
            },
            "lwa": {
                "client_id": "present" if lwa.get("client_id") else "missing",
                "refresh_token": "present" if lwa.get("refresh_token") else "missing",
            },
            "slots": slots,
            "last_error": error,
        }

    def check(self, request):
        """Can this device reach DRS with what is on flash? (subscriptionInfo)"""
        config = self.store.load_config()
        secrets = self.store.load_secrets()
        if not self.clock.is_set():
            try:
                from drsagent.hal import ntp

                ntp.sync()
            except ImportError:
                pass
        drs = run_once("boot", "make_drs", config, secrets, self.store, self.clock)
        return {"subscribed": run_once("drsadmin", "subscription_info", drs)}

    def factory_reset(self, request):
        import os

        for name in _FACTORY_FILES:
            try:
                os.remove(self.store.path(name))
            except OSError:
                pass
        self.changes += 1
        log.warn("console: factory reset")


_COMMANDS = {
    "config": Console.config,
    "slots": Console.slots,
    "calibrate": Console.calibrate,
    "lwa": Console.lwa,
    "status": Console.status,
    "check": Console.check,
    "factory_reset": Console.factory_reset,
}
