# One slot's order state machine with the persisted order latch (contracts.md section 1).
#
# idle -> ordering (latch saved BEFORE replenish) -> ordered (eid saved, tracking)
#   ordered -> delivered (Closed) -> idle on refill
#   ordered -> cooldown (Canceled) -> idle after cooldown_days or on refill
#   ordering -> inflight (ORDER_INPROGRESS without eid, or the eid unknown at Amazon)
#   ordering -> possibly_placed (an attempt's outcome is unknown and retrying is no
#       longer safe); inflight and possibly_placed -> idle on refill, or when the
#       longest plausible delivery plus a grace has passed without one
#   ordered -> idle after 21 days, or after _LOST polls in a row ending in "Unknown"
#
# Never twice: a replenish whose answer is lost (timeout, dropped connection, malformed
# answer, power cut) may have ordered. Amazon answers ORDER_INPROGRESS for that order
# only until it is delivered, so a retry is safe only before its earliest possible
# delivery (earliest_delivery_h after the first such attempt, `ua`); after that the slot
# waits for the refill a placed order would bring. A failure before the request left
# the device (errors.NotSent, TimeNotSet, AuthError) ordered nothing, nor did a clear
# 5xx/429 refusal of that attempt: those are retried freely. A 4xx does not settle what
# an earlier unknown attempt did.
#
# Persisted keys (the slot's dict `d` lives in state.json): st state, eid, since (entered
# st), at (next action: retry/poll/cooldown end/end of the wait for a refill), n
# (attempts; while ordered: polls in a row without a real status, errors or "Unknown"),
# iv (poll interval), os (last order status), h (no new order before, after a permanent
# error), pe (their count), rf (a refill was seen while the order was still open), ua
# (time of the first replenish attempt whose outcome is unknown: set before sending).
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
# Slot config defaults (contracts.md): how soon Amazon can deliver at the earliest (retry
# an unanswered replenish only before that), the longest plausible lead time in units
# of lead_time_days, and the grace for the household to put a delivery in.
_EARLIEST_DELIVERY_H = const(12)
_MAX_LEAD_FACTOR = const(2)
_REFILL_GRACE_DAYS = const(1)
# The states in which an order may be out (a damaged one of these is repaired to
# possibly_placed), and every state there is.
ORDER_STATES = ("ordering", "ordered", "inflight", "possibly_placed")
STATES = ("idle", "delivered", "cooldown") + ORDER_STATES


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
    if st != "ordering" and st != "possibly_placed":
        d.pop("ua", None)


def refill_wait(c):
    """How long a slot waits for the refill an order (possibly) placed would bring:
    the longest plausible lead time plus a grace, in seconds."""
    lead = c.get("lead_time_days", 3)
    longest = c.get("max_lead_time_days", _MAX_LEAD_FACTOR * lead)
    return int((longest + c.get("refill_grace_days", _REFILL_GRACE_DAYS)) * _DAY)


def _possibly_placed(a, sid, c, d, t, ua):
    # An order may be out since ua and retrying could now order twice: wait for the refill.
    _go(d, "possibly_placed", t, ua + refill_wait(c))
    d["ua"] = ua
    a.emit("possibly_placed", t=t, slot=sid, since=ua, until=d["at"])


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
        or ((st == "inflight" or st == "possibly_placed") and t >= d.get("at", 0))
    ):
        if st == "possibly_placed" or st == "inflight":
            a.emit("refill_overdue", t=t, slot=sid)  # no refill came: order again if low
        _go(d, "idle", t)
        a.save()
        st = "idle"
    ua = d.get("ua")
    if st == "ordering" and ua is not None and t >= ua + _window(c):
        _possibly_placed(a, sid, c, d, t, ua)  # e.g. back from a long power cut
        a.save()
        return
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
            replenish(a, sid, c, d, t)
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


def _window(c):
    # Retrying an unanswered replenish is safe this long after the first attempt.
    return int(c.get("earliest_delivery_h", _EARLIEST_DELIVERY_H) * _HOUR)


def replenish(a, sid, c, d, t):
    earlier = d.get("ua")  # an earlier attempt whose outcome is unknown, if any
    if earlier is None:
        d["ua"] = t  # unknown until the answer says otherwise (a power cut, say)
    d["st"] = "ordering"
    d["at"] = t
    a.save()  # THE latch: on flash before the request can reach Amazon
    try:
        code, eid = a.drs.replenish(sid)
    except Exception as e:  # unmapped (OSError etc.): we may or may not have ordered
        _attempt_failed(a, sid, c, d, t, e, earlier)
        return
    if code == "ORDER_INPROGRESS":
        ev = "order_adopted"
    elif code == "STANDARD_ORDER_PLACED" or code == "TEST_ORDER_PLACED":
        ev = "order_placed"
        if code == "TEST_ORDER_PLACED" and not a.config.get("test_orders"):
            log.warn("slot %s: Amazon placed a TEST order" % sid)
    else:  # a malformed answer: Amazon may have ordered
        _attempt_failed(a, sid, c, d, t, errors.BadResponse("detailCode %s" % code), earlier)
        return
    d.pop("pe", None)
    d.pop("h", None)
    if eid:
        _go(d, "ordered", t, t + _HOUR)
        d["eid"] = eid
        d["iv"] = _HOUR
    else:  # wait for the refill (or the end of the wait)
        _go(d, "inflight", t, t + refill_wait(c))
    a.save()  # on flash before anything says an order was placed
    if ev == "order_placed":
        a.emit(ev, t=t, slot=sid, eid=eid, code=code)
    else:
        a.emit(ev, t=t, slot=sid, eid=eid)


def _attempt_failed(a, sid, c, d, t, e, earlier):
    """A replenish attempt failed; `earlier` is the time of an earlier attempt whose
    outcome is unknown (None: there is none)."""
    if not isinstance(e, errors.DrsError):
        e = errors.NetworkError(str(e))
    if isinstance(e, (errors.NotSent, errors.TimeNotSet, errors.AuthError)) or isinstance(
        e, (errors.InvalidToken, errors.ServerError, errors.Throttled)
    ):
        # It never left the device, or Amazon clearly refused it: it ordered nothing.
        if earlier is None:
            d.pop("ua", None)
    ua = d.get("ua")
    n = d.get("n", 0) + 1
    retry = t + backoff.delay(n)
    if ua is not None and (not e.transient or retry >= ua + _window(c)):
        # An order may be out; a retry after its earliest delivery could order twice.
        _possibly_placed(a, sid, c, d, t, ua)
    elif e.transient:
        d["n"] = n
        d["at"] = retry
    else:
        # Permanent, and nothing can be out (dead credentials): stop asking for a long
        # while, but never give up silently.
        pe = d.get("pe", 0) + 1
        d["pe"] = pe
        _go(d, "idle", t)
        d["h"] = t + backoff.delay(pe, _HOLD_BASE, _HOLD_CAP)
    net_error(a, "replenish", e, t, sid)
    a.save()


def poll(a, sid, c, d, t):
    eid = d.get("eid")
    try:
        items = a.drs.order_info(eid)
    except errors.UnknownSlot:
        # Amazon does not know this eid (adopted or expired): wait for the refill,
        # unless it was already seen.
        a.emit("order_status", t=t, slot=sid, eid=eid, status="NotFound")
        if d.pop("rf", None):
            _go(d, "idle", t)
        else:
            _go(d, "inflight", t, t + refill_wait(c))
        a.save()
        return
    except Exception as e:
        if isinstance(e, errors.DrsError) and not e.transient:
            pe = d.get("pe", 0) + 1  # tracking: poll again much later
            d["pe"] = pe
            d["at"] = t + backoff.delay(pe, _HOLD_BASE, _HOLD_CAP)
            net_error(a, "getOrderInfo", e, t, sid)
            a.save()
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
