# One slot's order state machine with the persisted order latch (contracts.md section 1).
#
# idle -> ordering (latch saved BEFORE replenish) -> ordered (eid saved, tracking)
#   ordered -> delivered (Closed) -> idle on refill, or after the same wait as below
#   ordered -> cooldown (Canceled) -> idle after cooldown_days or on refill
#   ordering -> inflight (ORDER_INPROGRESS without eid, or an eid Amazon does not know)
#   ordering -> possibly_placed (an attempt's outcome is unknown and retrying is no
#       longer safe); inflight and possibly_placed -> idle on refill, or when the
#       longest plausible delivery plus a grace has passed without one
#   ordered -> idle after 21 days, or after _LOST polls in a row ending in "Unknown"
#
# Never twice: a replenish whose answer is lost (timeout, dropped connection, malformed
# answer, a 4xx, a power cut) may have ordered. Amazon answers ORDER_INPROGRESS for
# that order only until it is delivered, so a retry is safe only before its earliest
# possible delivery (earliest_delivery_h after the first such attempt); after that the
# slot waits for the refill a placed order would bring. A failure before the request
# left the device (errors.NotSent, TimeNotSet, AuthError) ordered nothing, nor did a
# clear refusal of that attempt (5xx, 429, an invalid token): those are retried freely,
# but they do not settle what an earlier unknown attempt did.
#
# The machine works on the slot's persisted dict (state.json) under the short keys
# below (a file format: docs/contracts.md; boot.py checks them after a boot, with the
# kind of value each holds and the states). It has narrow collaborators, never the
# agent: the DRS client, a save callable (the whole state is on flash when it
# returns), an event sink and its own settings. One machine serves every slot.
from drsagent import backoff, errors, log, timefmt
from drsagent.compat import const, run_once

_K_STATE = const("st")  # idle, ordering, ordered, inflight, delivered, cooldown
_K_EVENT_ID = const("eid")  # the order's eventInstanceId (None when idle)
_K_SINCE = const("since")  # when the slot entered its state
_K_NEXT_AT = const("at")  # next action: retry, poll or cooldown end
_K_ATTEMPTS = const("n")  # attempts; while ordered: polls in a row without a real status
_K_ORDER_STATUS = const("os")  # the last order status Amazon reported
_K_HOLD_UNTIL = const("h")  # no new order before this, after a permanent error
_K_PERMANENT_ERRORS = const("pe")  # permanent errors in a row
_K_REFILLED = const("rf")  # a refill was seen while the order was still tracked
# the first replenish attempt whose outcome is unknown: set before sending
_K_UNKNOWN_SINCE = const("ua")

_HOUR = const(3600)
_DAY = const(86400)
_INFLIGHT_MAX = const(1814400)  # 21 days: an order we cannot track has surely arrived or died
_LOST = const(9)  # "Unknown" (DRS: an error occurred with the order) for ~4 days of polls
_HOLD_BASE = const(21600)  # permanent errors: 6-12 h first (jittered), doubling ...
_HOLD_CAP = const(604800)  # ... up to a week: no retry storm, but no silent give-up either

# When the device talks to Amazon (docs/contracts.md, "Request schedule"). Every pass
# that calls DRS needs an LwA access token first, and a token lives one hour: a pass a
# day apart from the next always pays for a refresh. So the agent gathers its calls
# into few passes: once a day, at this device's report time (boot.report_time: a time
# derived from the serial, so a fleet's reports spread out), it sends deviceStatus, the
# pending slotStatus reports and the due order polls on one token.


def _at_or_after(t, base):
    # The first report time (base, modulo a day) at or after t.
    return t + (base - t) % _DAY


def report_due(last, base):
    """When the next daily report is due after one sent at last (0: never, due now):
    the first report time at least half a day later (a late retry or the first report
    after boot does not make a second report the same day)."""
    return _at_or_after(last + _DAY // 2, base) if last else 0


def next_poll(t, base, expected=None):
    """When to ask about an open order again: at the first report time at least an hour
    from now and not before its expected delivery (one token for report and poll).

    After placing (no expected date yet) that is the next report time, to see it
    authorized; then the report time after the expected delivery; past it, daily."""
    if expected is None or expected < t + _HOUR:
        expected = t + _HOUR
    return _at_or_after(expected, base)


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


def _go(d, state, t, at=None):
    d[_K_STATE] = state
    d[_K_SINCE] = t
    d[_K_ATTEMPTS] = 0
    if at is None:
        d.pop(_K_NEXT_AT, None)
    else:
        d[_K_NEXT_AT] = at
    if state == "idle":
        d[_K_EVENT_ID] = None
        d.pop(_K_ORDER_STATUS, None)
        d.pop(_K_REFILLED, None)
    if state != "ordering" and state != "possibly_placed":
        d.pop(_K_UNKNOWN_SINCE, None)


def refill_wait(c):
    """How long a slot waits for the refill an order (possibly) placed would bring: the
    longest plausible delivery plus the household's grace, in seconds."""
    return int((c["max_lead_time_days"] + c["refill_grace_days"]) * _DAY)


def retry_window(c):
    """How long after an attempt with an unknown outcome a retry is still safe."""
    return int(c["earliest_delivery_h"] * _HOUR)


def possibly_placed(d, c, t, since):
    """Enter possibly_placed: an order may be out since `since`; wait for its refill."""
    _go(d, "possibly_placed", t, since + refill_wait(c))
    d[_K_UNKNOWN_SINCE] = since


class OrderMachine:
    """drs: the DrsClient; save(): persist the whole state (on flash when it returns);
    emit(event, **fields); config: the device's settings (reads "test_orders": a TEST
    order is then expected); report_time: the daily report's seconds after 00:00 UTC."""

    def __init__(self, drs, save, emit, config, report_time):
        self.drs = drs
        self.save = save
        self.emit = emit
        self.config = config
        self.report_time = report_time  # seconds after 00:00 UTC: polls go with the report

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
        waiting = st == "inflight" or st == "possibly_placed" or st == "delivered"
        if lost or ((waiting or st == "cooldown") and t >= d.get(_K_NEXT_AT, 0)):
            if waiting:  # no refill came: order again if still low
                self.emit("refill_overdue", t=t, slot=sid)
            _go(d, "idle", t)
            self.save()
            st = "idle"
        unknown_since = d.get(_K_UNKNOWN_SINCE)
        if st == "ordering" and unknown_since is not None and t >= unknown_since + retry_window(c):
            self.possibly_placed(sid, c, d, t, unknown_since)  # e.g. back from a long cut
            self.save()
            return
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
                self.replenish(sid, c, d, t)
        elif st == "ordered":
            self.poll(sid, c, d, t)

    def on_refill(self, d, t):
        """A refill was seen. An order still being tracked stays tracked, but is marked:
        once it closes the slot re-arms (the delivery usually is that refill)."""
        st = d.get(_K_STATE)
        if st == "ordered":
            d[_K_REFILLED] = 1
        elif st != "idle":  # ordering, inflight, possibly_placed, delivered, cooldown
            _go(d, "idle", t)
        else:
            return
        self.save()

    def replenish(self, sid, c, d, t):
        earlier = d.get(_K_UNKNOWN_SINCE)  # an earlier attempt with an unknown outcome
        try:
            # The access token before the latch: a power cut or a failure while it is
            # fetched ordered nothing, and leaves no "possibly placed" behind.
            self.drs.token("replenish")
        except Exception as e:
            self._attempt_failed(sid, c, d, t, e, earlier)
            return
        if earlier is None:
            d[_K_UNKNOWN_SINCE] = t  # unknown until the answer says otherwise
        d[_K_STATE] = "ordering"
        d[_K_NEXT_AT] = t
        self.save()  # THE latch: on flash before the request can reach Amazon
        try:
            code, eid = self.drs.replenish(sid)
        except Exception as e:  # unmapped (OSError etc.): we may or may not have ordered
            self._attempt_failed(sid, c, d, t, e, earlier)
            return
        if code == "ORDER_INPROGRESS":
            ev = "order_adopted"
        elif code == "STANDARD_ORDER_PLACED" or code == "TEST_ORDER_PLACED":
            ev = "order_placed"
            if code == "TEST_ORDER_PLACED" and not self.config["test_orders"]:
                log.warn("slot %s: Amazon placed a TEST order" % sid)
        else:  # a malformed answer: Amazon may have ordered
            e = errors.BadResponse("detailCode %s" % code)
            self._attempt_failed(sid, c, d, t, e, earlier)
            return
        d.pop(_K_PERMANENT_ERRORS, None)
        d.pop(_K_HOLD_UNTIL, None)
        run_once("leadtime", "ordered", d, t)  # learned from here to the refill
        if eid:
            _go(d, "ordered", t, next_poll(t, self.report_time))
            d[_K_EVENT_ID] = eid
        else:  # wait for the refill (or the end of the wait)
            _go(d, "inflight", t, t + refill_wait(c))
        self.save()  # on flash before anything says an order was placed
        if ev == "order_placed":
            self.emit(ev, t=t, slot=sid, eid=eid, code=code)
        else:
            self.emit(ev, t=t, slot=sid, eid=eid)

    def possibly_placed(self, sid, c, d, t, since):
        """possibly_placed (the module function) and its event."""
        possibly_placed(d, c, t, since)
        self.emit("possibly_placed", t=t, slot=sid, since=since, until=d[_K_NEXT_AT])

    def _attempt_failed(self, sid, c, d, t, e, earlier):
        """A replenish attempt failed; `earlier`: the time of an earlier attempt with an
        unknown outcome (None: there is none)."""
        if not isinstance(e, errors.DrsError):
            e = errors.NetworkError(str(e))
        # Failures of an attempt that ordered nothing: it never left the device, or
        # Amazon clearly refused it.
        if isinstance(
            e,
            (
                errors.NotSent,
                errors.TimeNotSet,
                errors.AuthError,
                errors.InvalidToken,
                errors.ServerError,
                errors.Throttled,
            ),
        ):
            if earlier is None:
                d.pop(_K_UNKNOWN_SINCE, None)
        unknown_since = d.get(_K_UNKNOWN_SINCE)
        attempts = d.get(_K_ATTEMPTS, 0) + 1
        retry = t + backoff.delay(attempts)
        if unknown_since is not None and (
            not e.transient or retry >= unknown_since + retry_window(c)
        ):
            # An order may be out; a retry after its earliest delivery could order twice.
            self.possibly_placed(sid, c, d, t, unknown_since)
        elif e.transient:
            d[_K_ATTEMPTS] = attempts
            d[_K_NEXT_AT] = retry
        else:
            # Permanent, and nothing can be out (credentials refused): stop asking for a
            # long while, but never give up silently.
            self._hold(d, t)
            hold = d[_K_NEXT_AT]
            _go(d, "idle", t)
            d[_K_HOLD_UNTIL] = hold
        emit_failure(self.emit, "replenish", e, t, sid)
        self.save()

    def _hold(self, d, t):
        # After a permanent error: nothing before a long, growing hold (in _K_NEXT_AT).
        errors_in_a_row = d.get(_K_PERMANENT_ERRORS, 0) + 1
        d[_K_PERMANENT_ERRORS] = errors_in_a_row
        d[_K_NEXT_AT] = t + backoff.delay(errors_in_a_row, _HOLD_BASE, _HOLD_CAP)

    def poll(self, sid, c, d, t):
        eid = d.get(_K_EVENT_ID)
        try:
            items = self.drs.order_info(eid)
        except errors.UnknownOrder:
            # Amazon does not know this eid (adopted or expired): wait for the refill,
            # unless it was seen already.
            self.emit("order_status", t=t, slot=sid, eid=eid, status="NotFound")
            if d.pop(_K_REFILLED, None):
                _go(d, "idle", t)
            else:
                _go(d, "inflight", t, t + refill_wait(c))
            self.save()
            return
        except Exception as e:
            if isinstance(e, errors.DrsError) and not e.transient:
                self._hold(d, t)  # tracking: poll again much later
            else:  # transient (or unmapped): back off, hourly to daily
                n = d[_K_ATTEMPTS] = d.get(_K_ATTEMPTS, 0) + 1
                d[_K_NEXT_AT] = t + backoff.delay(n, _HOUR, _DAY)
            emit_failure(self.emit, "getOrderInfo", e, t, sid)
            self.save()  # the next poll time survives a reboot (no poll at once)
            return
        status = "Unknown"
        expected = None
        for item in items or ():
            item_slot = item.get("slotId")
            if item_slot is None or item_slot == sid:
                status = item.get("status") or "Unknown"
                expected = timefmt.parse(item.get("expectedDeliveryDate"))
                run_once("leadtime", "status", d, item.get("expectedDeliveryDate"))
                break
        # "Unknown" counts on from earlier failed polls: a run of them ends tracking (tick)
        d[_K_ATTEMPTS] = d.get(_K_ATTEMPTS, 0) + 1 if status == "Unknown" else 0
        if status != d.get(_K_ORDER_STATUS):
            d[_K_ORDER_STATUS] = status
            self.emit("order_status", t=t, slot=sid, eid=eid, status=status)
        if status == "Closed" or status == "Canceled":
            closed = status == "Closed"
            self.emit("delivered" if closed else "canceled", t=t, slot=sid, eid=eid)
            if d.pop(_K_REFILLED, None):
                _go(d, "idle", t)  # already put in while we were polling: re-armed
            else:
                if closed:  # wait for the refill, but not forever (it may be missed)
                    _go(d, "delivered", t, t + refill_wait(c))
                else:  # a cool-down instead of reordering at once
                    run_once("leadtime", "canceled", d)
                    _go(d, "cooldown", t, t + int(c["cooldown_days"] * _DAY))
                d[_K_EVENT_ID] = eid
        elif status == "Unknown":  # Amazon has trouble with the order: hourly to daily
            d[_K_NEXT_AT] = t + backoff.delay(d[_K_ATTEMPTS], _HOUR, _DAY)
        else:  # Pending, Authorized: next with the daily report after the expected delivery
            d[_K_NEXT_AT] = next_poll(t, self.report_time, expected)
        # Saved after every poll, changed or not: the next poll time then survives a
        # reboot (no poll storm from a boot loop). Cheap: polls are hours to a day apart.
        items = item = None
        self.save()
