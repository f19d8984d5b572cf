# The loop body: per slot measure -> filter -> estimate -> decide -> act (slot.py);
# then report, persist.
#
# Written for a small heap (every module, class, function and name costs heap on the
# device): one object, the Agent, and per slot one tuple (id, config, sensor callable,
# persisted dict, filter list) built at boot. The reading filter, the estimator and
# the decision are plain functions over plain containers, here; the order machine
# is slot.py.
#
# Estimator keys in the slot's persisted dict d (state.json): l level (0..1, EMA),
# r rate (fraction/day, EMA), t last update, rl/rt level and time at the start of the
# current rate window, k windows seen, u last time a window showed use, l0/t0 where
# learning started (until k > 0).
#
# Filter list f (RAM only): [level, fault, why, rejects, last_raw, same, pending,
# confirms]: the last accepted fraction, the fault reason (set after `fault_after`
# rejections in a row, cleared by the next accepted reading), the last rejection's
# reason, the rejections in a row, stuck detection (last raw value and how often in a
# row), and an unconfirmed big jump with the readings that agreed with it since.
from drsagent import backoff, errors, log
from drsagent.compat import collect, const, run_once
from drsagent.slot import net_error, on_refill, tick

_HOUR = const(3600)
_DAY = const(86400)
_SAVE_EVERY = const(21600)  # estimator-only changes reach flash at most every 6 h (wear)

_WINDOW = const(21600)  # measure drops over >= 6 h so sensor noise averages out
_COLD = const(3600)  # until the first use is measured: hourly windows, to learn fast
_CONFIRM = const(2)  # further consistent readings that confirm a big jump
# Floats, inline below: level EMA weight 0.3 (hourly readings: ~3 h lag), rate EMA
# weight 0.3 per window, a first rate only from a drop > 0.01 (well above noise),
# a rise > 0.3 is a refill whatever the level, crossing `rearm` needs a rise > 0.05.


def new_filter(level=None):
    """A filter seeded with the last known level (a glitch after a reboot is held)."""
    return [level, None, None, 0, None, 0, None, 0]


def feed(f, s, raw):
    """Take a raw reading with sensor config s; return the accepted fraction or None.

    Calibration is linear between s["empty"] and s["full"] (either may be larger:
    a distance sensor reads less when fuller); a little outside 0..1 is clamped."""
    if raw is None:
        why = "none"
    elif isinstance(raw, bool) or not isinstance(raw, (int, float)):
        why = "type"
    elif raw - raw != 0:  # NaN and +-inf both give NaN here; no math import needed
        why = "nan"
    else:
        if raw == f[4]:
            f[5] += 1
        else:
            f[4] = raw
            f[5] = 1
        n = s.get("stuck_readings", 48)
        e = s["empty"]
        x = (raw - e) / (s["full"] - e)
        if n and f[5] >= n:
            why = "stuck"
        elif x < -0.05 or x > 1.05:
            why = "range"
        else:
            x = 0.0 if x < 0 else 1.0 if x > 1 else x
            spike = s.get("spike", 0.3)
            why = None
            if f[0] is not None and abs(x - f[0]) > spike:
                # A refill or a glitch: hold it until further readings agree.
                p = f[6]
                if p is not None and abs(x - p) <= spike / 2:
                    f[7] += 1
                else:
                    f[6] = x
                    f[7] = 0
                if f[7] < _CONFIRM:
                    why = "spike"
            if why is None:
                f[0] = x
                f[1] = f[2] = f[6] = None
                f[3] = f[7] = 0
                return x
    f[2] = why
    f[3] += 1
    if f[3] >= s.get("fault_after", 3):
        f[1] = why
    return None


def days_left(d):
    """Days until empty at the measured rate (1e9 when nothing is being used)."""
    r = d.get("r", 0.0)
    lvl = d.get("l")
    if lvl is None or r <= 0:
        return 1e9
    return lvl / r


def update(d, c, x, t):
    """Take an accepted reading x at time t; return True when it is a refill."""
    lvl = d.get("l")
    if lvl is None:
        d["l"] = d["rl"] = d["l0"] = x
        d["t"] = d["rt"] = d["t0"] = t
        return False
    rise = x - lvl
    if rise > 0.3 or (lvl < c.get("rearm", 0.6) <= x and rise > 0.05):
        # New cartridge: jump straight to it and restart the rate window so the
        # jump is not read as negative use. Keep r: the usage habit is the same.
        d["l"] = d["rl"] = x
        d["t"] = d["rt"] = t
        if "l0" in d:  # still learning: restart from the full container
            d["l0"] = x
            d["t0"] = t
        return True
    # rounded: state.json stays short and JSON-stable on both runtimes
    lvl = round(lvl + 0.3 * rise, 4)
    d["l"] = lvl
    d["t"] = t
    dt = t - d.get("rt", t)
    k = d.get("k", 0)
    if dt >= (_WINDOW if k else _COLD):
        drop = d.get("rl", lvl) - lvl
        if drop > 0.002:  # more than noise: somebody used it (slotStatus lastUseDate)
            d["u"] = t
        if k == 0:
            # Cold start: learn from the first real use. A window that stays flat
            # (a night, noise) moves the reference on, so fast daytime use is seen
            # within hours; slow use shows up against l0/t0 instead.
            if drop <= 0.01:
                if drop > 0.002:
                    return False  # keep the window open
                drop = d.get("l0", lvl) - lvl
                dt = t - d.get("t0", t)
                if drop <= 0.02:
                    drop = 0
            if drop:  # seed the rate
                d["r"] = round(drop * _DAY / dt, 5) if dt > 0 else 0.0
                d["k"] = 1
                d.pop("l0", None)
                d.pop("t0", None)
        elif drop >= 0:  # a net rise without refill is noise: skip the window
            r = d.get("r", 0.0)
            d["r"] = round(r + 0.3 * (drop * _DAY / dt - r), 5)
            d["k"] = k + 1 if k < 99 else k
        d["rl"] = lvl
        d["rt"] = t
    return False


def decide(d, c):
    """None, or why to order now: "floor" (at/below the floor) or "forecast"."""
    lvl = d.get("l")
    if lvl is None:
        return None
    if lvl <= c.get("floor", 0.1):
        return "floor"
    if lvl > c.get("order_ceiling", 0.5):
        return None
    r = d.get("r", 0.0)
    if r <= 0:  # nothing measured yet: an optional prior from config (fraction per day)
        r = c.get("daily_use", 0)
    if r > 0 and lvl / r <= c.get("lead_time_days", 3) + c.get("margin_days", 1):
        return "forecast"
    return None


class Agent:
    """The agent of one device. Built by Agent.from_flash (boot.py); step() once a loop.

    config/drs/lanes are None/() while the config is unusable (`error` says why);
    `mk` is (make_sensor, make_drs), either None for the real one (tests pass fakes)."""

    def __init__(self, store, clock, state, emit=None, mk=(None, None)):
        self.store = store
        self.clock = clock
        self.state = state
        self.emit = emit or log.emit
        self.mk = mk
        self.config = None
        self.drs = None
        self.lanes = ()
        self.error = None
        self.dirty = 0  # 1: estimator changes (saved every 6 h), 2: save this step
        self.saved = clock.now() if clock.is_set() else 0
        self.warned = False  # "time not set" told once per outage
        # no report attempt before rep[0] (RAM: a reboot may retry at once), after
        # rep[1] failed attempts in a row
        self.rep = (0, 0)

    # Boot-time code (from_flash, reload, building the lanes) lives in boot.py, which
    # is imported for the call and unloaded again: it does not stay in the heap.

    @staticmethod
    def from_flash(store, clock, make_sensor=None, make_drs=None, emit=None):
        """Boot: load state (never fails), count the boot, then config/secrets.

        A bad config leaves the agent running in a no-order mode that re-reads the
        files every step and emits config_error once per distinct message."""
        return run_once("boot", "boot", store, clock, (make_sensor, make_drs), emit)

    def reload(self):
        """(Re)read config and secrets; True when the agent can run."""
        return run_once("boot", "reload", self)

    def save(self):
        self.store.save_state(self.state)
        self.saved = self.clock.now()
        self.dirty = 0

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
        for sid, c, read, d, f in self.lanes:
            try:
                try:
                    raw = read()
                except Exception:  # a driver that raises is a disconnected sensor
                    raw = None
                st = d.get("st")
                fault = f[1]
                x = feed(f, c["sensor"], raw)  # None: rejected (an accepted one clears f[1])
                rp = f[1] != fault
                if rp:
                    if f[1]:
                        self.emit("sensor_fault", t=t, slot=sid, reason=f[1])
                    else:
                        self.emit("sensor_ok", t=t, slot=sid)
                why = None  # no accepted reading: no order, no retry
                if x is not None:
                    if update(d, c, x, t):
                        self.emit("refill", t=t, slot=sid, level=round(x, 4))
                        on_refill(self, d, t)
                        rp = True
                    if not self.dirty:
                        self.dirty = 1
                    why = decide(d, c) or ""
                tick(self, sid, c, d, t, why, d.get("l"))
                if rp or d.get("st") != st:  # worth telling Amazon, and on flash now
                    d["rp"] = 1
                    self.dirty = 2
            except Exception as e:  # one bad slot (or a failed save) never stops the others
                log.error("slot %s: %s: %s" % (sid, type(e).__name__, e))
        try:
            self.report(t)
        except Exception as e:  # reporting is best effort
            log.error("report: %s: %s" % (type(e).__name__, e))
        if self.dirty > 1 or (self.dirty and t - self.saved >= _SAVE_EVERY):
            try:
                self.save()
            except Exception as e:
                log.error("save failed: %s" % e)

    def report(self, t):
        """deviceStatus once per UTC day, with the slotStatus of slots that changed."""
        last = self.state.get("last_device_status", 0)
        hour = self.config.get("report_hour_utc", 3)
        if t < self.rep[0] or (last and t < (last // _DAY + 1) * _DAY + hour * _HOUR):
            return
        drs = self.drs
        collect()
        try:
            drs.device_status(t, serial=self.config["device"].get("serial"))
        except Exception as e:
            n = self.rep[1] + 1
            self.rep = (t + backoff.delay(n, 900, _DAY), n)
            net_error(self, "deviceStatus", e, t)
            return
        self.rep = (0, 0)
        self.state["last_device_status"] = t
        self.dirty = 2
        self.emit("report", t=t, op="deviceStatus")
        for sid, c, _, d, _ in self.lanes:
            if not d.get("rp"):
                continue
            lvl = d.get("l")
            if lvl is not None:  # else: never a good reading, nothing true to tell Amazon
                cap = c.get("capacity", 1.0)
                # DRS wants every field: no measured use yet -> a year out, "since" as last use
                exp = t + int(min(days_left(d), 365) * _DAY)
                collect()
                try:
                    drs.slot_status(
                        sid,
                        round(lvl * cap, 3),
                        cap,
                        expected_replenish=exp,
                        last_use=d.get("u") or d.get("since") or t,
                    )
                except Exception as e:
                    net_error(self, "slotStatus", e, t, sid)
                    if not isinstance(e, errors.DrsError) or e.transient:
                        continue  # keep rp: tomorrow's report carries it
                else:
                    self.emit("report", t=t, slot=sid, op="slotStatus")
            d.pop("rp", None)
