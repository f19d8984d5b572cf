# Agent boot (Agent.from_flash, Agent.reload, building the lanes): boot-only code,
# imported for the call and unloaded again (compat.run_once) so it does not stay in
# the heap. Config validation (config.py) is loaded and dropped inside it, before the
# network stack is imported, so the two never sit in the heap together.
from drsagent import log
from drsagent.errors import ConfigError


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


def boot_agent(cls, store, clock, make_sensor=None, make_drs_fn=None, emit=None):
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
        reload_agent(a)
    except MemoryError as e:  # step() tries again; the boot is not repeated
        log.error("boot: %s" % e)
    return a


def reload_agent(self):
    """(Re)read config and secrets; True when the agent can run."""
    store = self.store
    try:
        config = store.load_config()
        secrets = store.load_secrets()
        sensors = {}
        for c in config["slots"]:
            sensors[c["id"]] = self._make_sensor(c)
        drs = self._make_drs(config, secrets, store, self.clock)
    except ConfigError as e:
        return _config_error(self, str(e))
    except MemoryError:
        raise  # not the config's fault: let the loop log it and try again
    except Exception as e:  # a KeyError or OSError here is a config problem too
        return _config_error(self, "config: %s: %s" % (type(e).__name__, e))
    self.error = None
    setup_agent(self, config, secrets, drs, sensors)
    return True


def _config_error(self, msg):
    if msg != self.error:
        self.error = msg
        log.error(msg)
        self.emit("config_error", t=self.clock.now(), msg=msg)
    return False


def setup_agent(self, config, secrets, drs, sensors):
    from drsagent.agent import _Lane
    from drsagent.hal.sensor import ReadingFilter
    from drsagent.policy import Estimator
    from drsagent.slot import Slot, new_state

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
