"""The one module of fakes for the tests: each stands in for the layer below the code
under test: the clock, the DRS client (behaving like Amazon: one open order per slot,
ORDER_INPROGRESS while it is out), the flash store (its config passes the firmware's
own validator, which fills in the defaults), a power cut; and config builders. For the
benchmarks: one simulation run (what ``drsctl.bench.run_sim`` returns).
"""

import copy
import json

from drsagent import config as config_schema
from drsagent import errors, timefmt

T0 = 1767225600  # 2026-01-01T00:00:00Z
HOUR = 3600
DAY = 86400


class PowerCut(BaseException):  # noqa: N818 - not an error the firmware may catch
    """Simulated power loss: not an Exception, so no firmware handler swallows it."""


class FakeClock:
    """A clock that moves only when told to (advance)."""

    def __init__(self, t=T0, is_set=True):
        self.t = t
        self._set = is_set

    def now(self):
        return self.t

    def is_set(self):
        return self._set

    def advance(self, s):
        self.t += s


class Events:
    """Collects emitted events like log.emit would produce them."""

    def __init__(self):
        self.items = []

    def __call__(self, ev, **fields):
        ev = {"ev": ev}
        ev.update(fields)
        self.items.append(ev)

    def kinds(self):
        return [e["ev"] for e in self.items]

    def of(self, kind):
        return [e for e in self.items if e["ev"] == kind]


class FakeAmazon:
    """DRS client double with Amazon's semantics and a script of failures.

    Order status follows time since creation: Pending for 2 h, Authorized until
    `deliver_after`, then Closed. `script[op]` is a list of entries consumed one per
    call: an exception instance (raised before Amazon acts), ("after", exc) (Amazon
    acts, then the answer is lost), or a value to return as is.
    """

    def __init__(self, clock, deliver_after=2 * DAY):
        self.clock = clock
        self.deliver_after = deliver_after
        self.calls = []
        self.open = {}  # slot -> eid
        self.orders = {}  # eid -> {"slot","created","status"}
        self.placed = 0
        self.script = {}
        self.before_call = None  # hook(op) e.g. to check the latch is on flash
        self.crash_after_next = False
        self._n = 0

    def token(self, op):
        """DrsClient.token: the access token a call of op would carry."""
        return "access-token"

    def _next(self, op):
        q = self.script.get(op)
        return q.pop(0) if q else None

    def _pre(self, op, *args):
        self.calls.append((op,) + args)
        if self.before_call:
            self.before_call(op)
        entry = self._next(op)
        if isinstance(entry, BaseException):
            raise entry
        return entry

    def _post(self, entry, result):
        if isinstance(entry, tuple) and entry and entry[0] == "after":
            raise entry[1]
        if self.crash_after_next:
            self.crash_after_next = False
            raise PowerCut()
        return result

    def count(self, op):
        return sum(1 for c in self.calls if c[0] == op)

    def status_of(self, eid):
        o = self.orders[eid]
        if o["status"] in ("Canceled", "Closed"):
            return o["status"]
        age = self.clock.now() - o["created"]
        if age < 2 * HOUR:
            return "Pending"
        if age < self.deliver_after:
            return "Authorized"
        o["status"] = "Closed"
        self.open.pop(o["slot"], None)
        return "Closed"

    def cancel(self, eid):
        o = self.orders[eid]
        o["status"] = "Canceled"
        self.open.pop(o["slot"], None)

    # -- the DrsClient surface ---------------------------------------------

    def replenish(self, slot_id):
        entry = self._pre("replenish", slot_id)
        if entry is not None and not (isinstance(entry, tuple) and entry[0] == "after"):
            return entry
        eid = self.open.get(slot_id)
        if eid is not None:
            self.status_of(eid)  # may close it
            eid = self.open.get(slot_id)
        if eid is not None:
            return self._post(entry, ("ORDER_INPROGRESS", eid))
        self._n += 1
        eid = f"amzn1.dash.v2.o.{self._n:04d}"
        self.open[slot_id] = eid
        self.orders[eid] = {"slot": slot_id, "created": self.clock.now(), "status": None}
        self.placed += 1
        return self._post(entry, ("STANDARD_ORDER_PLACED", eid))

    def order_info(self, eid):
        entry = self._pre("order_info", eid)
        if entry is not None:
            return entry
        if eid not in self.orders:
            raise errors.UnknownOrder("getOrderInfo HTTP 400 unknown eventInstanceId")
        o = self.orders[eid]
        status = self.status_of(eid)
        return self._post(
            None,
            [
                {
                    "asin": "B0X",
                    "quantity": 1,
                    "slotId": o["slot"],
                    "status": status,
                    "expectedDeliveryDate": timefmt.iso(o["created"] + self.deliver_after),
                }
            ],
        )

    def slot_status(self, slot_id, remaining, original, expected_replenish, last_use):
        self._pre("slot_status", slot_id, remaining, original, expected_replenish, last_use)

    def device_status(self, last_active, serial):
        self._pre("device_status", last_active, serial)


# A secrets.json that passes config.validate_secrets (the agent's DRS client is a fake).
SECRETS = {"lwa": {"client_id": "c", "client_secret": "s", "refresh_token": "r"}}


class FakeStore:
    """FlashStore double: config.json, secrets.json and state.json are JSON round trips
    of config, secrets and state (None: no such file; an exception: raised when the
    file is read), loaded and checked by config.py as on the device; records every save.
    """

    def __init__(self, config=None, secrets=None, state=None):
        self.config = config
        self.secrets = secrets if secrets is not None else SECRETS
        self.state = state
        self.saved = []
        self.root = "fake-store-has-no-directory"  # no leftovers of cut writes to list

    def path(self, name):
        return self.root + "/" + name

    def read_json(self, name):
        files = {"config.json": self.config, "secrets.json": self.secrets, "state.json": self.state}
        value = files.get(name)
        if isinstance(value, Exception):
            raise value
        if value is None:
            raise OSError(2, "no such file", name)
        return json.loads(json.dumps(value))

    def save_secrets(self, d):
        self.secrets = copy.deepcopy(d)

    def save_state(self, state):
        self.state = json.loads(json.dumps(state))
        self.saved.append(self.state)


def slot_cfg(sid="toner", **kw):
    """One slot's config as the validator leaves it (defaults filled in)."""
    cfg = {
        "id": sid,
        "sensor": {"driver": "sim", "empty": 0, "full": 1000},
        "capacity": 1.0,
        "lead_time_days": 3,
        "margin_days": 1,
        "floor": 0.1,
        "order_ceiling": 0.5,
        "rearm": 0.6,
        "cooldown_days": 2,
    }
    cfg.update(kw)
    return config_schema.validate_config(config(cfg))["slots"][0]


def config(*slots, **kw):
    cfg = {
        "device": {"serial": "PRN-1", "model": "x"},
        "endpoints": {"drs": "http://127.0.0.1:1", "lwa": "http://127.0.0.1:1/auth/o2/token"},
        "allow_plain_http": True,
        "loop_interval_s": 3600,
        "http_timeout_s": 10,
        "test_orders": False,
        "report_hour_utc": 3,
        "slots": list(slots) or [slot_cfg()],
    }
    cfg.update(kw)
    return cfg


def fake_run_sim(needed_k, reference):
    """A ``drsctl.bench.run_sim``: a run that behaves like ``reference`` from
    ``needed_k(binary)`` KiB of heap up (and with the default heap), else crashes."""

    def run(runtime, days, heap=None, slots=2, binary=None):
        if heap is None or int(heap.rstrip("k")) >= needed_k(binary):
            return dict(reference)
        return {**reference, "crashes": 1, "failure": "MemoryError"}

    return run
