# One slot's order state machine with the persisted order latch (contracts.md section 1).
#
# idle -> ordering (latch saved BEFORE replenish) -> ordered (eid saved, tracking)
#   ordered -> delivered (Closed) -> idle on refill
#   ordered -> cooldown (Canceled) -> idle after cooldown_days or on refill
#   ordering -> inflight (ORDER_INPROGRESS without eid) -> idle on refill or after 21 days
#   ordered -> idle after 21 days, or after _LOST polls in a row ending in "Unknown"
# Persisted keys (the slot's dict `d` lives in state.json): st state, eid, since (entered
# st), at (next action: retry/poll/cooldown end), n (attempts; while ordered: polls in a
# row without a real status, errors or "Unknown"), iv (poll interval), os (last order
# status), h (no new order before, after a permanent error), pe (their count), rf (a
# refill was seen while the order was still open).
#
# Functions over that dict, no object per slot. `a` is the agent: a.drs (the DRS
# client), a.save() (persists the whole state: on flash when it returns), a.emit
# (events) and a.config ("test_orders").
from drsagent import backoff, errors, log
from drsagent.compat import const

_HOUR = const(3600)
_DAY = const(86400)
_INFLIGHT_MAX = const(1814400)  # 21 days: an order we cannot track has surely arrived or died
_LOST = const(9)  # "Unknown" (DRS: an error occurred with the order) for ~4 days of polls
_HOLD_BASE = const(21600)  # permanent errors: 6-12 h first (jittered), doubling ...
_HOLD_CAP = const(604800)  # ... up to a week: no retry storm, but no silent give-up either


def new_state(t=0):
    return {"st": "idle", "eid": None, "since": t}


def net_error(a, op, e, t, sid=None):
    """Emit auth_error (credentials refused: retrying soon will not help) or net_error."""
    ev = "auth_error" if isinstance(e, (errors.AuthError, errors.InvalidToken)) else "net_error"
    if sid is None:
        a.emit(ev, t=t, op=op, kind=type(e).__name__)
    else:
        a.emit(ev, t=t, slot=sid, op=op, kind=type(e).__name__)


def _go(d, st, t, at=None):
    d["st"] = st
    d["since"] = t
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


def tick(a, sid, c, d, t, reason, x):
    """Advance the machine at time t. reason: None without a fresh accepted reading this
    tick, else the policy's reason to order ("floor", "forecast") or "" (none);
    x is the level (for the event)."""
    st = d.get("st", "idle")
    # An order Amazon never closes (Pending/Authorized for weeks, or "Unknown" again and
    # again) is not tracked forever: that would keep the slot from re-arming (a refill
    # only sets rf) and let it run dry. Stop tracking and go idle: a refill re-arms as
    # usual, and if the slot is still low it asks again. That retry cannot order twice
    # while Amazon still holds the order (merely late): replenish answers ORDER_INPROGRESS
    # and the order is adopted. Only an order Amazon delivered while telling us
    # otherwise, and that nobody put in since, could be ordered again: we err on that
    # side rather than leave the slot empty for good behind an order that died.
    lost = st == "ordered" and (
        t - d.get("since", t) >= _INFLIGHT_MAX
        or (d.get("n", 0) >= _LOST and d.get("os") == "Unknown")
    )
    if lost:
        a.emit("order_untracked", t=t, slot=sid, eid=d.get("eid"), status=d.get("os"))
    if (
        lost
        or (st == "cooldown" and t >= d.get("at", 0))
        or (st == "inflight" and t - d.get("since", t) >= _INFLIGHT_MAX)
    ):
        _go(d, "idle", t)
        a.save()
        st = "idle"
    if st == "idle":
        if not reason or t < d.get("h", 0):
            return
        a.emit("low", t=t, slot=sid, level=x, reason=reason)
        _go(d, "ordering", t, t)
        st = "ordering"
    if t < d.get("at", 0):
        return
    if st == "ordering":
        if reason is not None:  # a retry is a new order as far as we know: good readings only
            replenish(a, sid, d, t)
    elif st == "ordered":
        poll(a, sid, c, d, t)


def on_refill(a, d, t):
    """A refill was seen. An order still being tracked stays tracked, but is marked:
    once it closes the slot re-arms (the delivery usually is that refill)."""
    st = d.get("st")
    if st == "ordered":
        d["rf"] = 1
    elif st != "idle":  # ordering, inflight, delivered, cooldown
        _go(d, "idle", t)
    else:
        return
    a.save()


def replenish(a, sid, d, t):
    d["st"] = "ordering"
    d["at"] = t
    a.save()  # THE latch: on flash before the request can reach Amazon
    try:
        code, eid = a.drs.replenish(sid)
    except Exception as e:  # unmapped (OSError etc.): we may or may not have ordered
        _failed(a, sid, d, t, "replenish", e)
        return
    if code == "ORDER_INPROGRESS":
        ev = "order_adopted"
    elif code == "STANDARD_ORDER_PLACED" or code == "TEST_ORDER_PLACED":
        ev = "order_placed"
        if code == "TEST_ORDER_PLACED" and not a.config.get("test_orders"):
            log.warn("slot %s: Amazon placed a TEST order" % sid)
    else:
        # Unknown answer: retrying is safe, Amazon replies ORDER_INPROGRESS if it ordered.
        _failed(a, sid, d, t, "replenish", errors.BadResponse("detailCode %s" % code))
        return
    d.pop("pe", None)
    d.pop("h", None)
    if eid:
        _go(d, "ordered", t, t + _HOUR)
        d["eid"] = eid
        d["iv"] = _HOUR
    else:
        _go(d, "inflight", t)  # wait for the refill (or the safety timeout)
    if ev == "order_placed":
        a.emit(ev, t=t, slot=sid, eid=eid, code=code)
    else:
        a.emit(ev, t=t, slot=sid, eid=eid)
    a.save()


def _failed(a, sid, d, t, op, e):
    if not isinstance(e, errors.DrsError):
        e = errors.NetworkError(str(e))
    if e.transient:
        n = d.get("n", 0) + 1
        d["n"] = n
        d["at"] = t + backoff.delay(n)
    else:
        # Permanent: stop asking for a long while. This request ordered nothing (the
        # token failed before sending, or Amazon refused it), but an earlier attempt
        # that timed out may have: if so, the next retry gets ORDER_INPROGRESS.
        pe = d.get("pe", 0) + 1
        d["pe"] = pe
        hold = t + backoff.delay(pe, _HOLD_BASE, _HOLD_CAP)
        if d.get("st") == "ordering":
            _go(d, "idle", t)
            d["h"] = hold
        else:
            d["at"] = hold  # tracking: poll again much later
    net_error(a, op, e, t, sid)
    a.save()


def poll(a, sid, c, d, t):
    eid = d.get("eid")
    try:
        items = a.drs.order_info(eid)
    except errors.UnknownOrder:
        # Amazon does not know this eid (adopted or expired): wait for the refill.
        a.emit("order_status", t=t, slot=sid, eid=eid, status="NotFound")
        _go(d, "inflight", t)
        a.save()
        return
    except Exception as e:
        if isinstance(e, errors.DrsError) and not e.transient:
            _failed(a, sid, d, t, "getOrderInfo", e)
            return
        n = d.get("n", 0) + 1  # transient (or unmapped): back off, hourly to daily
        d["n"] = n
        d["at"] = t + backoff.delay(n, _HOUR, _DAY)
        net_error(a, "getOrderInfo", e, t, sid)
        a.save()  # hourly to daily: the backoff survives a reboot (no poll at once)
        return
    status = "Unknown"
    for it in items or ():
        s = it.get("slotId")
        if s is None or s == sid:
            status = it.get("status") or "Unknown"
            break
    # "Unknown" counts on from earlier failed polls: a run of them ends tracking (tick)
    d["n"] = d.get("n", 0) + 1 if status == "Unknown" else 0
    changed = status != d.get("os")
    if changed:
        d["os"] = status
        d["iv"] = _HOUR  # something moves: look again soon
        a.emit("order_status", t=t, slot=sid, eid=eid, status=status)
    else:
        d["iv"] = min(d.get("iv", _HOUR) * 2, _DAY)
    if status == "Closed" or status == "Canceled":
        closed = status == "Closed"
        a.emit("delivered" if closed else "canceled", t=t, slot=sid, eid=eid)
        if d.pop("rf", None):
            _go(d, "idle", t)  # already put in while we were polling: re-armed
        else:
            if closed:
                _go(d, "delivered", t)
            else:  # a cool-down instead of reordering at once
                _go(d, "cooldown", t, t + int(c.get("cooldown_days", 2) * _DAY))
            d["eid"] = eid
    else:  # Pending, Authorized, Unknown: keep polling, further apart
        d["at"] = t + d["iv"]
    # Saved after every poll, changed or not: the next poll time then survives a reboot
    # (no poll storm from a boot loop). Cheap: unchanged polls are hours to a day apart.
    items = it = None
    a.save()
