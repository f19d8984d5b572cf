# The loop body: per slot measure -> filter -> estimate -> decide -> act; then report, persist.
from drsagent import backoff, errors, log
from drsagent.compat import collect, const
from drsagent.hal.sensor import ReadingFilter
from drsagent.policy import Estimator, decide
from drsagent.slot import Slot, new_state

HOUR = const(3600)
DAY = const(86400)
SAVE_EVERY = const(21600)  # estimator-only changes reach flash at most every 6 h (wear)


def make_drs(config, secrets, store, clock):
    """The real DRS client stack (LwA token manager + DrsClient) from config/secrets."""
    from drsagent.drs import DrsClient
    from drsagent.lwa import TokenManager

    ep = config["endpoints"]
    cadata = None
    if ep["drs"].startswith("https:") or ep["lwa"].startswith("https:"):
        cadata = store.load_ca(config)  # ConfigError when named but missing/empty
    timeout = config.get("http_timeout_s", 10)
    tokens = TokenManager(
        ep["lwa"], secrets, store.save_secrets, clock, timeout=timeout, cadata=cadata
    )
    return DrsClient(ep["drs"], tokens, timeout=timeout, cadata=cadata)


class _Lane:
    """Everything one slot needs at run time (RAM only)."""

    def __init__(self, cfg, sensor, filt, est, slot):
        self.cfg = cfg
        self.sensor = sensor
        self.filt = filt
        self.est = est
        self.slot = slot
        self.fault = None


class Agent:
    def __init__(self, config, secrets, store, clock, drs, sensors, state, emit=None):
        self.store = store
        self.clock = clock
        self.state = state
        self.emit = emit or log.emit
        self.config = None
        self.drs = None
        self.lanes = []
        self.error = None  # the config error message while the agent cannot run
        self._time_warned = False
        self._saved_at = clock.now() if clock.is_set() else 0
        self._dirty = False
        self._urgent = False
        self._rep_at = 0  # no report attempt before (RAM: a reboot may retry at once)
        self._rep_n = 0
        self._make_sensor = None
        self._make_drs = None
        if config is not None:
            self._setup(config, secrets, drs, sensors)

    @classmethod
    def from_flash(cls, store, clock, make_sensor=None, make_drs_fn=None, emit=None):
        """Boot: load state (never fails), count the boot, then config/secrets.

        A bad config leaves the agent running in a no-order mode that re-reads the
        files every step and emits config_error once per distinct message."""
        try:
            store.remove_stale_tmp()  # leftovers of a write cut by a power loss
        except Exception:
            pass
        state = store.load_state()
        a = cls(None, None, store, clock, None, None, state, emit=emit)
        if make_sensor is None:
            from drsagent.hal import make_sensor
        a._make_sensor = make_sensor
        a._make_drs = make_drs_fn or make_drs
        state["boots"] = state.get("boots", 0) + 1
        a.emit("boot", t=clock.now(), boots=state["boots"])
        try:
            store.save_state(state)
        except Exception as e:  # flash trouble must not stop the boot
            log.error("boot: cannot save state: %s" % e)
        try:
            a.reload()
        except MemoryError as e:  # step() tries again; the boot is not repeated
            log.error("boot: %s" % e)
        return a

    def reload(self):
        """(Re)read config and secrets; True when the agent can run."""
        store = self.store
        try:
            config = store.load_config()
            secrets = store.load_secrets()
            sensors = {}
            for c in config["slots"]:
                sensors[c["id"]] = self._make_sensor(c)
            drs = self._make_drs(config, secrets, store, self.clock)
        except errors.ConfigError as e:
            return self._config_error(str(e))
        except MemoryError:
            raise  # not the config's fault: let the loop log it and try again
        except Exception as e:  # a KeyError or OSError here is a config problem too
            return self._config_error("config: %s: %s" % (type(e).__name__, e))
        self.error = None
        self._setup(config, secrets, drs, sensors)
        return True

    def _config_error(self, msg):
        if msg != self.error:
            self.error = msg
            log.error(msg)
            self.emit("config_error", t=self.clock.now(), msg=msg)
        return False

    def _setup(self, config, secrets, drs, sensors):
        self.config = config
        self.drs = drs
        slots = self.state.setdefault("slots", {})
        ids = []
        self.lanes = []
        now = self.clock.now()
        for c in config["slots"]:
            sid = c["id"]
            ids.append(sid)
            d = slots.get(sid)
            if not isinstance(d, dict) or "st" not in d:
                d = new_state(now)
                slots[sid] = d
                self._urgent = True  # a new slot: on flash with the next step
            e = d.setdefault("e", {})
            est = Estimator(e, c.get("rearm", 0.6))
            # Seed the filter with the persisted level: a glitch right after a reboot
            # is then held like any other spike instead of being believed.
            filt = ReadingFilter.from_cfg(c["sensor"], level=e.get("l"))
            slot = Slot(
                sid, c, d, drs, self.save, self.emit,
                test_orders=bool(config.get("test_orders")), log=log,
            )
            self.lanes.append(_Lane(c, sensors[sid], filt, est, slot))
        for sid in list(slots):
            if sid not in ids:  # slot removed from config.json
                del slots[sid]
                self._urgent = True

    # -- persistence ------------------------------------------------------

    def save(self):
        self.store.save_state(self.state)
        self._saved_at = self.clock.now()
        self._dirty = False
        self._urgent = False

    # -- the loop ---------------------------------------------------------

    def step(self):
        if self.config is None and not self.reload():
            return
        clock = self.clock
        if not clock.is_set():
            if not self._time_warned:  # once per outage, not every loop
                self._time_warned = True
                self.emit("net_error", t=clock.now(), op="clock", kind="TimeNotSet")
            return
        self._time_warned = False
        now = clock.now()
        for lane in self.lanes:
            try:
                self._slot_step(lane, now)
            except Exception as e:  # one bad slot (or a failed save) never stops the others
                log.error("slot %s: %s: %s" % (lane.slot.sid, type(e).__name__, e))
        try:
            self._report(now)
        except Exception as e:  # reporting is best effort
            log.error("report: %s: %s" % (type(e).__name__, e))
        if self._urgent or (self._dirty and now - self._saved_at >= SAVE_EVERY):
            try:
                self.save()
            except Exception as e:
                log.error("save: %s" % e)

    def _slot_step(self, lane, now):
        slot = lane.slot
        d = slot.d
        try:
            raw = lane.sensor.read()
        except Exception:  # a driver that raises is a disconnected sensor
            raw = None
        x = lane.filt.feed(raw)
        fault = lane.filt.fault
        if fault != lane.fault:
            if fault:
                self.emit("sensor_fault", t=now, slot=slot.sid, reason=fault)
            else:
                self.emit("sensor_ok", t=now, slot=slot.sid)
            lane.fault = fault
            d["rp"] = 1
            self._urgent = True
        ok = x is not None and fault is None
        want = None
        if ok:
            if lane.est.update(x, now):
                self.emit("refill", t=now, slot=slot.sid, level=round(x, 4))
                slot.on_refill(now)
                d["rp"] = 1
                self._urgent = True
            self._dirty = True
            want = decide(lane.est, lane.cfg)
        before = slot.st
        slot.tick(now, want, ok, level=lane.est.level)
        if slot.st != before:
            d["rp"] = 1
            self._urgent = True

    # -- reporting --------------------------------------------------------

    def report_due(self, now):
        last = self.state.get("last_device_status", 0)
        if not last:
            return True
        hour = self.config.get("report_hour_utc", 3)
        return now >= (last // DAY + 1) * DAY + hour * HOUR

    def _report(self, now):
        """deviceStatus once per UTC day, with the slotStatus of slots that changed."""
        if now < self._rep_at or not self.report_due(now):
            return
        drs = self.drs
        collect()
        try:
            drs.device_status(now, serial=self.config["device"].get("serial"))
        except Exception as e:
            self._rep_n += 1
            self._rep_at = now + backoff.delay(self._rep_n, base=900, cap=DAY)
            self._net_error("deviceStatus", e, now)
            return
        self._rep_n = 0
        self.state["last_device_status"] = now
        self._urgent = True
        self.emit("report", t=now, op="deviceStatus")
        for lane in self.lanes:
            d = lane.slot.d
            if not d.get("rp"):
                continue
            est = lane.est
            lvl = est.level
            if lvl is None:  # never had a good reading: nothing true to tell Amazon
                d.pop("rp", None)
                continue
            cap = lane.cfg.get("capacity", 1.0)
            # DRS wants every field: no measured use yet -> a year out, "since" as last use
            days = est.days_left()
            exp = now + int((days if days < 365 else 365) * DAY)
            used = est.d.get("u") or d.get("since") or now
            collect()
            try:
                drs.slot_status(
                    lane.slot.sid, round(lvl * cap, 3), cap, expected_replenish=exp, last_use=used
                )
            except errors.DrsError as e:
                self._net_error("slotStatus", e, now, lane.slot.sid)
                if e.transient:
                    continue  # keep rp: tomorrow's report carries it
            except Exception as e:
                self._net_error("slotStatus", e, now, lane.slot.sid)
                continue
            else:
                self.emit("report", t=now, slot=lane.slot.sid, op="slotStatus")
            d.pop("rp", None)

    def _net_error(self, op, e, now, sid=None):
        kind = type(e).__name__
        ev = "auth_error" if isinstance(e, (errors.AuthError, errors.InvalidToken)) else "net_error"
        if sid is None:
            self.emit(ev, t=now, op=op, kind=kind)
        else:
            self.emit(ev, t=now, slot=sid, op=op, kind=kind)
