# One slot's order state machine with the persisted order latch (contracts.md section 1).
#
# idle -> ordering (latch saved BEFORE replenish) -> ordered (eid saved, tracking)
#   ordered -> delivered (Closed) -> idle on refill
#   ordered -> cooldown (Canceled) -> idle after cooldown_days or on refill
#   ordering -> inflight (ORDER_INPROGRESS without eid) -> idle on refill or after 21 days
#   ordered -> idle after 21 days, or after _LOST polls in a row ending in "Unknown"
#
# The machine works on the slot's persisted dict (state.json) under the short keys
# below (a file format: docs/contracts.md). It has narrow collaborators, never the
# agent: the DRS client, a save callable (the whole state is on flash when it
# returns), an event sink and its own settings. One machine serves every slot.
from drsagent import backoff, errors, log
from drsagent.compat import const, run_once

_K_STATE = const("st")  # idle, ordering, ordered, inflight, delivered, cooldown
_K_EVENT_ID = const("eid")  # the order's eventInstanceId (None when idle)
_K_SINCE = const("since")  # when the slot entered its state
_K_NEXT_AT = const("at")  # next action: retry, poll or cooldown end
_K_ATTEMPTS = const("n")  # attempts; while ordered: polls in a row without a real status
_K_POLL_INTERVAL = const("iv")  # seconds between polls (doubles while nothing changes)
_K_ORDER_STATUS = const("os")  # the last order status Amazon reported
_K_HOLD_UNTIL = const("h")  # no new order before this, after a permanent error
_K_PERMANENT_ERRORS = const("pe")  # permanent errors in a row
_K_REFILLED = const("rf")  # a refill was seen while the order was still tracked

_HOUR = const(3600)
_DAY = const(86400)
_INFLIGHT_MAX = const(1814400)  # 21 days: an order we cannot track has surely arrived or died
_LOST = const(9)  # "Unknown" (DRS: an error occurred with the order) for ~4 days of polls
_HOLD_BASE = const(21600)  # permanent errors: 6-12 h first (jittered), doubling ...
_HOLD_CAP = const(604800)  # ... up to a week: no retry storm, but no silent give-up either


def new_state(t=0):
    return {_K_STATE: "idle", _K_EVENT_ID: None, _K_SINCE: t}


def order_state(d):
    """The slot's order state name."""
    return d.get(_K_STATE)


def since(d):
    """When the slot entered its current state."""
    return d.get(_K_SINCE)


def emit_failure(emit, op, e, t, sid=None):
    """Emit auth_error (credentials refused: retrying soon will not help) or net_error."""
    ev = "auth_error" if isinstance(e, (errors.AuthError, errors.InvalidToken)) else "net_error"
    if sid is None:
        emit(ev, t=t, op=op, kind=type(e).__name__)
    else:
        emit(ev, t=t, slot=sid, op=op, kind=type(e).__name__)


def _go(d, st, t, at=None):
    d[_K_STATE] = st
    d[_K_SINCE] = t
    d[_K_ATTEMPTS] = 0
    if at is None:
        d.pop(_K_NEXT_AT, None)
    else:
        d[_K_NEXT_AT] = at
    if st == "idle":
        d[_K_EVENT_ID] = None
        d.pop(_K_POLL_INTERVAL, None)
        d.pop(_K_ORDER_STATUS, None)
        d.pop(_K_REFILLED, None)


class OrderMachine:
    """drs: the DrsClient; save(): persist the whole state (on flash when it returns);
    emit(event, **fields); config: the device's settings (reads "test_orders": a TEST
    order is then expected)."""

    def __init__(self, drs, save, emit, config):
        self.drs = drs
        self.save = save
        self.emit = emit
        self.config = config

    def tick(self, sid, c, d, t, reason, x):
        """Advance the machine at time t. reason: None without a fresh accepted reading
        this tick, else the policy's reason to order ("floor", "forecast") or "" (none);
        x is the level (for the event)."""
        st = d.get(_K_STATE, "idle")
        # An order Amazon never closes (Pending/Authorized for weeks, or "Unknown" again
        # and again) is not tracked forever: that would keep the slot from re-arming (a
        # refill only marks it) and let it run dry. Stop tracking and go idle: a refill
        # re-arms as usual, and if the slot is still low it asks again. That retry
        # cannot order twice while Amazon still holds the order (merely late): replenish
        # answers ORDER_INPROGRESS and the order is adopted. Only an order Amazon
        # delivered while telling us otherwise, and that nobody put in since, could be
        # ordered again: we err on that side rather than leave the slot empty for good
        # behind an order that died.
        lost = st == "ordered" and (
            t - d.get(_K_SINCE, t) >= _INFLIGHT_MAX
            or (d.get(_K_ATTEMPTS, 0) >= _LOST and d.get(_K_ORDER_STATUS) == "Unknown")
        )
        if lost:
            self.emit(
                "order_untracked",
                t=t,
                slot=sid,
                eid=d.get(_K_EVENT_ID),
                status=d.get(_K_ORDER_STATUS),
            )
        if (
            lost
            or (st == "cooldown" and t >= d.get(_K_NEXT_AT, 0))
            or (st == "inflight" and t - d.get(_K_SINCE, t) >= _INFLIGHT_MAX)
        ):
            _go(d, "idle", t)
            self.save()
            st = "idle"
        if st == "idle":
            if not reason or t < d.get(_K_HOLD_UNTIL, 0):
                return
            self.emit("low", t=t, slot=sid, level=x, reason=reason)
            _go(d, "ordering", t, t)
            st = "ordering"
        if t < d.get(_K_NEXT_AT, 0):
            return
        if st == "ordering":
            if reason is not None:  # a retry is a new order as far as we know: good readings only
                self.replenish(sid, d, t)
        elif st == "ordered":
            self.poll(sid, c, d, t)

    def on_refill(self, d, t):
        """A refill was seen. An order still being tracked stays tracked, but is marked:
        once it closes the slot re-arms (the delivery usually is that refill)."""
        st = d.get(_K_STATE)
        if st == "ordered":
            d[_K_REFILLED] = 1
        elif st != "idle":  # ordering, inflight, delivered, cooldown
            _go(d, "idle", t)
        else:
            return
        self.save()

    def replenish(self, sid, d, t):
        d[_K_STATE] = "ordering"
        d[_K_NEXT_AT] = t
        self.save()  # THE latch: on flash before the request can reach Amazon
        try:
            code, eid = self.drs.replenish(sid)
        except Exception as e:  # unmapped (OSError etc.): we may or may not have ordered
            self._failed(sid, d, t, "replenish", e)
            return
        if code == "ORDER_INPROGRESS":
            ev = "order_adopted"
        elif code == "STANDARD_ORDER_PLACED" or code == "TEST_ORDER_PLACED":
            ev = "order_placed"
            if code == "TEST_ORDER_PLACED" and not self.config["test_orders"]:
                log.warn("slot %s: Amazon placed a TEST order" % sid)
        else:
            # Unknown answer: retrying is safe, Amazon replies ORDER_INPROGRESS if it ordered.
            self._failed(sid, d, t, "replenish", errors.BadResponse("detailCode %s" % code))
            return
        d.pop(_K_PERMANENT_ERRORS, None)
        d.pop(_K_HOLD_UNTIL, None)
        run_once("leadtime", "ordered", d, t)  # learned from here to the refill
        if eid:
            _go(d, "ordered", t, t + _HOUR)
            d[_K_EVENT_ID] = eid
            d[_K_POLL_INTERVAL] = _HOUR
        else:
            _go(d, "inflight", t)  # wait for the refill (or the safety timeout)
        if ev == "order_placed":
            self.emit(ev, t=t, slot=sid, eid=eid, code=code)
        else:
            self.emit(ev, t=t, slot=sid, eid=eid)
        self.save()

    def _failed(self, sid, d, t, op, e):
        if not isinstance(e, errors.DrsError):
            e = errors.NetworkError(str(e))
        if e.transient:
            n = d.get(_K_ATTEMPTS, 0) + 1
            d[_K_ATTEMPTS] = n
            d[_K_NEXT_AT] = t + backoff.delay(n)
        else:
            # Permanent: stop asking for a long while. This request ordered nothing (the
            # token failed before sending, or Amazon refused it), but an earlier attempt
            # that timed out may have: if so, the next retry gets ORDER_INPROGRESS.
            errors_in_a_row = d.get(_K_PERMANENT_ERRORS, 0) + 1
            d[_K_PERMANENT_ERRORS] = errors_in_a_row
            hold = t + backoff.delay(errors_in_a_row, _HOLD_BASE, _HOLD_CAP)
            if d.get(_K_STATE) == "ordering":
                _go(d, "idle", t)
                d[_K_HOLD_UNTIL] = hold
            else:
                d[_K_NEXT_AT] = hold  # tracking: poll again much later
        emit_failure(self.emit, op, e, t, sid)
        self.save()

    def poll(self, sid, c, d, t):
        eid = d.get(_K_EVENT_ID)
        try:
            items = self.drs.order_info(eid)
        except errors.UnknownOrder:
            # Amazon does not know this eid (adopted or expired): wait for the refill.
            self.emit("order_status", t=t, slot=sid, eid=eid, status="NotFound")
            _go(d, "inflight", t)
            self.save()
            return
        except Exception as e:
            if isinstance(e, errors.DrsError) and not e.transient:
                self._failed(sid, d, t, "getOrderInfo", e)
                return
            n = d.get(_K_ATTEMPTS, 0) + 1  # transient (or unmapped): back off, hourly to daily
            d[_K_ATTEMPTS] = n
            d[_K_NEXT_AT] = t + backoff.delay(n, _HOUR, _DAY)
            emit_failure(self.emit, "getOrderInfo", e, t, sid)
            self.save()  # hourly to daily: the backoff survives a reboot (no poll at once)
            return
        status = "Unknown"
        for item in items or ():
            item_slot = item.get("slotId")
            if item_slot is None or item_slot == sid:
                status = item.get("status") or "Unknown"
                run_once("leadtime", "status", d, item.get("expectedDeliveryDate"))
                break
        # "Unknown" counts on from earlier failed polls: a run of them ends tracking (tick)
        d[_K_ATTEMPTS] = d.get(_K_ATTEMPTS, 0) + 1 if status == "Unknown" else 0
        if status != d.get(_K_ORDER_STATUS):
            d[_K_ORDER_STATUS] = status
            d[_K_POLL_INTERVAL] = _HOUR  # something moves: look again soon
            self.emit("order_status", t=t, slot=sid, eid=eid, status=status)
        else:
            d[_K_POLL_INTERVAL] = min(d.get(_K_POLL_INTERVAL, _HOUR) * 2, _DAY)
        if status == "Closed" or status == "Canceled":
            closed = status == "Closed"
            self.emit("delivered" if closed else "canceled", t=t, slot=sid, eid=eid)
            if d.pop(_K_REFILLED, None):
                _go(d, "idle", t)  # already put in while we were polling: re-armed
            else:
                if closed:
                    _go(d, "delivered", t)
                else:  # a cool-down instead of reordering at once
                    run_once("leadtime", "canceled", d)
                    _go(d, "cooldown", t, t + int(c["cooldown_days"] * _DAY))
                d[_K_EVENT_ID] = eid
        else:  # Pending, Authorized, Unknown: keep polling, further apart
            d[_K_NEXT_AT] = t + d[_K_POLL_INTERVAL]
        # Saved after every poll, changed or not: the next poll time then survives a
        # reboot (no poll storm from a boot loop). Cheap: unchanged polls are hours to a
        # day apart.
        items = item = None
        self.save()
