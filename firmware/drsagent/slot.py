# One slot's order state machine with the persisted order latch (contracts.md section 1).
#
# idle -> ordering (latch saved BEFORE replenish) -> ordered (eid saved, tracking)
#   ordered -> delivered (Closed) -> idle on refill
#   ordered -> cooldown (Canceled) -> idle after cooldown_days or on refill
#   ordering -> inflight (ORDER_INPROGRESS without eid) -> idle on refill or after 21 days
# Persisted keys (the dict `d` lives in state.json): st state, eid, since (entered st),
# at (next action: retry/poll/cooldown end), n (attempts), iv (poll interval),
# os (last order status), h (no new order before, after a permanent error), pe (their count),
# rf (a refill was seen while the order was still open).
from drsagent import backoff, errors
from drsagent.compat import const

HOUR = const(3600)
DAY = const(86400)
INFLIGHT_MAX = const(1814400)  # 21 days: an order we cannot track has surely arrived or died
HOLD_BASE = const(21600)  # permanent errors: 6-12 h first (jittered), doubling ...
HOLD_CAP = const(604800)  # ... up to a week: no retry storm, but no silent give-up either

PLACED = ("STANDARD_ORDER_PLACED", "TEST_ORDER_PLACED")
INPROGRESS = "ORDER_INPROGRESS"


def new_state(now=0):
    return {"st": "idle", "eid": None, "since": now}


def _kind(e):
    return type(e).__name__


class Slot:
    def __init__(self, sid, cfg, d, drs, save, emit, test_orders=False, log=None):
        self.sid = sid
        self.cfg = cfg
        self.d = d
        self.drs = drs
        self.save = save  # persists the whole state; MUST be on flash when it returns
        self.emit = emit
        self.test_orders = test_orders
        self.log = log

    @property
    def st(self):
        return self.d.get("st", "idle")

    def _ev(self, ev, now, **kw):
        self.emit(ev, t=now, slot=self.sid, **kw)

    def _go(self, st, now, at=None):
        d = self.d
        d["st"] = st
        d["since"] = now
        d["n"] = 0
        if at is None:
            d.pop("at", None)
        else:
            d["at"] = at
        if st == "idle":
            d["eid"] = None
            d.pop("iv", None)
            d.pop("os", None)
            d.pop("rf", None)

    def tick(self, now, want=None, ok=False, level=None, net=True):
        """Advance the machine. `want` is the policy's reason to order (or None); `ok`
        says this tick has a fresh, accepted reading; `net` False skips DRS calls."""
        d = self.d
        st = self.st
        if st == "cooldown" and now >= d.get("at", 0):
            self._go("idle", now)
            self.save()
            st = "idle"
        elif st == "inflight" and now - d.get("since", now) >= INFLIGHT_MAX:
            self._go("idle", now)
            self.save()
            st = "idle"
        if st == "idle":
            if not (want and ok and net) or now < d.get("h", 0):
                return
            self._ev("low", now, level=level, reason=want)
            self._go("ordering", now, now)
            st = "ordering"
        if not net:
            return
        if st == "ordering":
            # A retry is a new order as far as we know: only on a good reading.
            if ok and now >= d.get("at", 0):
                self._replenish(now)
        elif st == "ordered":
            if now >= d.get("at", 0):
                self._poll(now)

    def on_refill(self, now):
        """A refill was seen. An order still being tracked stays tracked, but is
        marked: once it closes the slot re-arms (the delivery usually is that refill)."""
        st = self.st
        if st in ("ordering", "inflight", "delivered", "cooldown"):
            self._go("idle", now)
            self.save()
        elif st == "ordered":
            self.d["rf"] = 1
            self.save()

    # -- ordering ---------------------------------------------------------

    def _replenish(self, now):
        d = self.d
        d["st"] = "ordering"
        d["at"] = now
        self.save()  # THE latch: on flash before the request can reach Amazon
        try:
            code, eid = self.drs.replenish(self.sid)
        except errors.DrsError as e:
            self._failed(now, "replenish", e)
            return
        except Exception as e:  # unmapped OSError etc.: we may or may not have ordered
            self._failed(now, "replenish", errors.NetworkError(str(e)))
            return
        d.pop("pe", None)
        d.pop("h", None)
        if code in PLACED:
            if code == "TEST_ORDER_PLACED" and not self.test_orders and self.log:
                self.log.warn("slot %s: Amazon placed a TEST order" % self.sid)
            self._track(eid, now)
            self._ev("order_placed", now, eid=eid, code=code)
        elif code == INPROGRESS:
            self._track(eid, now)
            self._ev("order_adopted", now, eid=eid)
        else:
            # Unknown answer: retrying is safe, Amazon replies ORDER_INPROGRESS if it ordered.
            self._failed(now, "replenish", errors.BadResponse("detailCode %s" % code))
            return
        self.save()

    def _track(self, eid, now):
        if eid:
            self._go("ordered", now, now + HOUR)
            self.d["eid"] = eid
            self.d["iv"] = HOUR
        else:
            self._go("inflight", now)  # wait for the refill (or the safety timeout)

    def _failed(self, now, op, e):
        d = self.d
        if e.transient:
            n = d.get("n", 0) + 1
            d["n"] = n
            d["at"] = now + backoff.delay(n)
            self._ev("net_error", now, op=op, kind=_kind(e))
            self.save()
            return
        # Permanent: stop asking for a long while. Nothing was ordered (the token
        # failed before sending, or Amazon refused the request).
        pe = d.get("pe", 0)
        hold = now + backoff.delay(pe + 1, base=HOLD_BASE, cap=HOLD_CAP)
        d["pe"] = pe + 1
        if isinstance(e, (errors.AuthError, errors.InvalidToken)):
            self._ev("auth_error", now, op=op, kind=_kind(e))
        else:
            self._ev("net_error", now, op=op, kind=_kind(e))
        if d.get("st") == "ordering":
            self._go("idle", now)
            d["h"] = hold
        else:
            d["at"] = hold  # tracking: poll again much later
        self.save()

    # -- tracking ---------------------------------------------------------

    def _poll(self, now):
        d = self.d
        eid = d.get("eid")
        try:
            items = self.drs.order_info(eid)
        except errors.UnknownSlot:
            # Amazon does not know this eid (adopted or expired): wait for the refill.
            self._ev("order_status", now, eid=eid, status="NotFound")
            self._go("inflight", now)
            self.save()
            return
        except errors.DrsError as e:
            if e.transient:
                n = d.get("n", 0) + 1
                d["n"] = n
                d["at"] = now + backoff.delay(n, base=HOUR, cap=DAY)
                self._ev("net_error", now, op="getOrderInfo", kind=_kind(e))
            else:
                self._failed(now, "getOrderInfo", e)
            return
        except Exception as e:
            d["at"] = now + d.get("iv", HOUR)
            self._ev("net_error", now, op="getOrderInfo", kind=_kind(e))
            return
        status = "Unknown"
        for it in items or ():
            if it.get("slotId") in (None, self.sid):
                status = it.get("status") or "Unknown"
                break
        d["n"] = 0
        changed = status != d.get("os")
        if changed:
            d["os"] = status
            d["iv"] = HOUR  # something moves: look again soon
            self._ev("order_status", now, eid=eid, status=status)
        else:
            d["iv"] = min(d.get("iv", HOUR) * 2, DAY)
        if status == "Closed":
            self._ev("delivered", now, eid=eid)
            if d.pop("rf", None):
                self._go("idle", now)  # already put in while we were polling
            else:
                self._go("delivered", now)
                d["eid"] = eid
        elif status == "Canceled":
            self._ev("canceled", now, eid=eid)
            if d.pop("rf", None):
                self._go("idle", now)  # refilled anyway: nothing to cool down from
            else:
                self._go("cooldown", now, now + int(self.cfg.get("cooldown_days", 2) * DAY))
                d["eid"] = eid
        else:  # Pending, Authorized, Unknown: keep polling, further apart
            d["at"] = now + d["iv"]
        if changed:
            self.save()
