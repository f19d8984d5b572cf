# The loop body: per slot measure -> filter -> estimate -> decide -> act; then report, persist.
from drsagent import backoff, errors, log
from drsagent.compat import collect, const, run_once
from drsagent.policy import decide

HOUR = const(3600)
DAY = const(86400)
SAVE_EVERY = const(21600)  # estimator-only changes reach flash at most every 6 h (wear)


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
            run_once("boot", "setup_agent", self, config, secrets, drs, sensors)

    # Boot-time code (from_flash, reload, building the lanes) lives in boot.py, which
    # is imported for the call and unloaded again: it does not stay in the heap.

    @classmethod
    def from_flash(cls, store, clock, make_sensor=None, make_drs_fn=None, emit=None):
        """Boot: load state (never fails), count the boot, then config/secrets.

        A bad config leaves the agent running in a no-order mode that re-reads the
        files every step and emits config_error once per distinct message."""
        return run_once("boot", "boot_agent", cls, store, clock, make_sensor, make_drs_fn, emit)

    def reload(self):
        """(Re)read config and secrets; True when the agent can run."""
        return run_once("boot", "reload_agent", self)

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
