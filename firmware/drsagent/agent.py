# The loop: per slot measure -> filter (reading.py) -> estimate (estimator.py) ->
# decide (policy.py) -> act (slot.py); then report to Amazon once a day and persist.
#
# Per slot one lane, built at boot (boot.py): a tuple (id, config, sensor callable,
# persisted dict, reading filter). The persisted dict is the slot's entry in
# state.json; the estimator and the order machine each own their keys in it.
from drsagent import backoff, errors, estimator, log
from drsagent.compat import collect, const, run_once
from drsagent.policy import decide
from drsagent.reading import accepted, fault, feed
from drsagent.slot import emit_failure, order_state, report_due, since

_DAY = const(86400)
_SAVE_EVERY = const(21600)  # estimator-only changes reach flash at most every 6 h (wear)
# state.json: a slotStatus worth sending is pending (a number: boot.py checks it)
_K_REPORT_PENDING = const("rp")
_EXPECTING = const(("ordered", "delivered", "inflight"))  # order states awaiting a refill
_CLEAN = const(0)  # nothing to save
_ESTIMATE_CHANGED = const(1)  # estimator changes: saved within _SAVE_EVERY
_SAVE_NOW = const(2)  # order or report state changed: saved at the end of this step


class Agent:
    """The agent of one device. Built by Agent.from_flash (boot.py); step() once a loop.

    config/drs/orders/lanes are None/() while the config is unusable (`error` says
    why); make_sensor/make_drs are None for the real ones (tests pass fakes)."""

    def __init__(self, store, clock, emit=None, make_sensor=None, make_drs=None):
        self.store = store
        self.clock = clock
        self.state = None  # loaded by the boot
        self.emit = emit or log.emit
        self.make_sensor = make_sensor
        self.make_drs = make_drs
        self.config = None
        self.drs = None
        self.orders = None  # the slots' OrderMachine
        self.lanes = ()
        self.error = None
        self.dirty = _CLEAN
        self.saved = clock.now() if clock.is_set() else 0
        self.warned = False  # "time not set" told once per outage
        # No report attempt before report_not_before (RAM: a reboot may retry at
        # once), after report_failures failed attempts in a row.
        self.report_not_before = 0
        self.report_failures = 0

    # Boot-time code (from_flash, reload, building the lanes) lives in boot.py, which
    # is imported for the call and unloaded again: it does not stay in the heap.

    @staticmethod
    def from_flash(store, clock, make_sensor=None, make_drs=None, emit=None):
        """Boot: load state (never fails), count the boot, then config/secrets.

        A bad config leaves the agent running in a no-order mode that re-reads the
        files every step and emits config_error once per distinct message."""
        agent = Agent(store, clock, emit, make_sensor, make_drs)
        run_once("boot", "boot", agent)
        return agent

    def reload(self):
        """(Re)read config and secrets; True when the agent can run."""
        return run_once("boot", "reload", self)

    def save(self):
        """Persist the whole state (the order machine's save callable)."""
        self.store.save_state(self.state)
        self.saved = self.clock.now()
        self.dirty = _CLEAN

    def save_soon(self):
        """Have the state on flash at the end of the next step."""
        self.dirty = _SAVE_NOW

    def step(self):
        if self.config is None and not self.reload():
            return
        t = self.clock.now()
        if not self.clock.is_set():
            if not self.warned:  # once per outage, not every loop
                self.warned = True
                self.emit("net_error", t=t, op="clock", kind="TimeNotSet")
            return
        self.warned = False
        orders = self.orders
        for sid, c, read, d, reading_filter in self.lanes:
            try:
                try:
                    raw = read()
                except Exception:  # a driver that raises is a disconnected sensor
                    raw = None
                state_before = order_state(d)
                fault_before = fault(reading_filter)
                previous = accepted(reading_filter)
                x = feed(reading_filter, c, raw)  # None: rejected
                fault_now = fault(reading_filter)  # an accepted reading clears it
                report = fault_now != fault_before
                if report:
                    if fault_now:
                        self.emit("sensor_fault", t=t, slot=sid, reason=fault_now)
                    else:
                        self.emit("sensor_ok", t=t, slot=sid)
                why = None  # no accepted reading (or one held): no order, no retry
                level = estimator.level(d)
                expecting = state_before in _EXPECTING
                refill = None if x is None else estimator.update(d, c, x, t, expecting, previous)
                if refill is not None:
                    if refill:
                        self.emit("refill", t=t, slot=sid, level=round(x, 4))
                        run_once("leadtime", "refill", d, t)
                        orders.on_refill(d, t)
                        if run_once("capacity", "report", self.emit, sid, d, t):
                            self.save_soon()
                        report = True
                    if not self.dirty:
                        self.dirty = _ESTIMATE_CHANGED
                    level = estimator.level(d)
                    why = decide(d, c) or ""
                orders.tick(sid, c, d, t, why, level)
                if report or order_state(d) != state_before:  # tell Amazon; on flash now
                    d[_K_REPORT_PENDING] = 1
                    self.save_soon()
            except Exception as e:  # one bad slot (or a failed save) never stops the others
                log.error("slot %s: %s: %s" % (sid, type(e).__name__, e))
        try:
            self.report(t)
        except Exception as e:  # reporting is best effort
            log.error("report: %s: %s" % (type(e).__name__, e))
        if self.dirty == _SAVE_NOW or (self.dirty and t - self.saved >= _SAVE_EVERY):
            try:
                self.save()
            except Exception as e:
                log.error("save failed: %s" % e)

    def report(self, t):
        """deviceStatus once a day at this device's report time (slot.report_due), with the
        slotStatus of slots that changed and the polls due (one LwA token for all)."""
        due = report_due(self.state.get("last_device_status", 0), self.orders.report_time)
        if t < self.report_not_before or t < due:
            return
        drs = self.drs
        collect()
        try:
            drs.device_status(t, self.config["device"]["serial"])
        except Exception as e:
            self.report_failures += 1
            self.report_not_before = t + backoff.delay(self.report_failures, 900, _DAY)
            emit_failure(self.emit, "deviceStatus", e, t)
            return
        self.report_not_before = 0
        self.report_failures = 0
        self.state["last_device_status"] = t
        self.save_soon()
        self.emit("report", t=t, op="deviceStatus")
        for sid, c, _, d, _ in self.lanes:
            if not d.get(_K_REPORT_PENDING) or order_state(d) == "delivered":
                continue  # delivered, not put in yet: the level is news once it is
            lvl = estimator.level(d)
            if lvl is not None:  # else: never a good reading, nothing true to tell Amazon
                cap = c["capacity"]
                # DRS wants every field: no measured use yet -> a year out, "since" as last use
                exp = t + int(min(estimator.days_left(d), 365) * _DAY)
                collect()
                try:
                    drs.slot_status(
                        sid,
                        round(lvl * cap, 3),
                        cap,
                        expected_replenish=exp,
                        last_use=estimator.last_use(d) or since(d) or t,
                    )
                except Exception as e:
                    emit_failure(self.emit, "slotStatus", e, t, sid)
                    if not isinstance(e, errors.DrsError) or e.transient:
                        continue  # keep rp: tomorrow's report carries it
                else:
                    self.emit("report", t=t, slot=sid, op="slotStatus")
            d.pop(_K_REPORT_PENDING, None)
