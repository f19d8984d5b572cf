import json
import re
from pathlib import Path

import pytest
from drsagent import backoff, errors, slot
from drsagent.slot import new_state
from script_server import needs_micropython

from host_tests.fakes import (
    DAY,
    HOUR,
    T0,
    Events,
    FakeAmazon,
    FakeClock,
    PowerCut,
    slot_cfg,
)

SID = "toner"
# The rig's device reports (and polls) daily at 03:31:01 (any time of day would do).
REPORT_AT = 3 * HOUR + 1861


class Slot:
    """One slot (id, config, persisted dict) on an OrderMachine with its narrow
    collaborators: the DRS client, a save callable, an event sink, the settings."""

    def __init__(self, sid, cfg, d, drs, save, emit, test_orders=False):
        self.sid, self.cfg, self.d = sid, cfg, d
        self.machine = slot.OrderMachine(drs, save, emit, {"test_orders": test_orders}, REPORT_AT)

    def tick(self, now, want=None, ok=False, level=None):
        # the agent passes None without a good reading, else the reason or ""
        self.machine.tick(self.sid, self.cfg, self.d, now, (want or "") if ok else None, level)

    def on_refill(self, now):
        self.machine.on_refill(self.d, now)


class Rig:
    """A slot controller with a fake Amazon, a fake clock and a recorded flash."""

    def __init__(self, d=None, cfg=None, deliver_after=2 * DAY):
        backoff.seed(11)  # a repeatable jitter: the same run every time
        self.clock = FakeClock()
        self.amazon = FakeAmazon(self.clock, deliver_after=deliver_after)
        self.events = Events()
        self.saves = []
        self.cfg = cfg or slot_cfg(SID)
        self.d = d if d is not None else new_state(T0)
        self.slot = self.build(self.d)

    def build(self, d):
        self.d = d
        return Slot(SID, self.cfg, d, self.amazon, self.save, self.events)

    def save(self):
        self.saves.append(json.loads(json.dumps(self.d)))

    def tick(self, want="floor", ok=True, level=0.05):
        self.slot.tick(self.clock.now(), want, ok, level=level)

    def run(self, hours, step=HOUR, **kw):
        for _ in range(int(hours * HOUR / step)):
            self.clock.advance(step)
            self.tick(**kw)

    @property
    def st(self):
        return self.d["st"]


def test_first_order_latch_is_saved_before_replenish():
    rig = Rig()
    seen = []
    rig.amazon.before_call = lambda op: seen.append((op, rig.saves[-1]["st"]))
    rig.tick(want="floor", level=0.08)
    assert seen == [("replenish", "ordering")]
    assert rig.amazon.placed == 1
    assert rig.st == "ordered"
    assert rig.d["eid"] == "amzn1.dash.v2.o.0001"
    assert rig.d["at"] == T0 + REPORT_AT  # first poll with the next daily report
    assert rig.saves[-1]["st"] == "ordered" and rig.saves[-1]["eid"] == rig.d["eid"]
    assert rig.events.kinds() == ["low", "order_placed"]
    low, placed = rig.events.items
    assert low == {"ev": "low", "t": T0, "slot": SID, "level": 0.08, "reason": "floor"}
    assert placed["code"] == "STANDARD_ORDER_PLACED" and placed["eid"] == rig.d["eid"]


def test_test_order_code_is_recorded():
    rig = Rig()
    rig.amazon.script["replenish"] = [("TEST_ORDER_PLACED", "eid-test")]
    rig.tick()
    assert rig.st == "ordered" and rig.d["eid"] == "eid-test"
    assert rig.events.of("order_placed")[0]["code"] == "TEST_ORDER_PLACED"


def test_no_order_without_reason_or_on_bad_reading():
    rig = Rig()
    rig.tick(want=None)
    rig.tick(want="floor", ok=False)  # faulted / unconfirmed reading
    assert rig.amazon.calls == []
    assert rig.st == "idle" and rig.saves == []


def test_order_inprogress_with_eid_is_adopted_and_tracked():
    rig = Rig()
    rig.amazon.open[SID] = "eid-old"
    rig.amazon.orders["eid-old"] = {"slot": SID, "created": T0 - 5 * HOUR, "status": None}
    rig.tick()
    assert rig.amazon.placed == 0
    assert rig.st == "ordered" and rig.d["eid"] == "eid-old"
    assert rig.events.of("order_adopted") == [
        {"ev": "order_adopted", "t": T0, "slot": SID, "eid": "eid-old"}
    ]
    rig.run(4)  # to the first pass after the report time
    assert rig.amazon.calls[-1] == ("order_info", "eid-old")
    assert rig.events.of("order_status")[-1]["status"] == "Authorized"


def test_order_inprogress_without_eid_waits_for_refill_then_times_out():
    rig = Rig()
    rig.amazon.script["replenish"] = [("ORDER_INPROGRESS", None)]
    rig.tick()
    assert rig.st == "inflight" and rig.d["eid"] is None
    assert rig.events.of("order_adopted")[0]["eid"] is None
    wait_h = slot.refill_wait(rig.cfg) // HOUR  # the longest plausible delivery + a grace
    rig.run(wait_h - 1)  # still low all along: no second order, no polling
    assert rig.amazon.count("replenish") == 1 and rig.amazon.count("order_info") == 0
    rig.run(2)  # no refill came: idle, and still low -> ask again
    assert rig.amazon.count("replenish") == 2 and rig.amazon.placed == 1
    assert rig.st == "ordered"


def test_inflight_refill_rearms():
    rig = Rig()
    rig.amazon.script["replenish"] = [("ORDER_INPROGRESS", None)]
    rig.tick()
    rig.clock.advance(3 * DAY)
    rig.slot.on_refill(rig.clock.now())
    assert rig.st == "idle" and rig.saves[-1]["st"] == "idle"
    assert rig.d["since"] == T0 + 3 * DAY


def test_transient_error_backs_off_and_never_duplicates():
    rig = Rig()
    rig.amazon.script["replenish"] = [errors.ServerError("500"), errors.Throttled("429")]
    rig.tick()
    assert rig.st == "ordering" and rig.d["n"] == 1
    first_at = rig.d["at"]
    assert first_at > T0
    ev = rig.events.of("net_error")[0]
    assert ev["op"] == "replenish" and ev["kind"] == "ServerError"
    assert rig.saves[-1]["st"] == "ordering"  # a reboot now resumes the retry
    # ticks before `at` do not call again
    rig.clock.t = first_at - 1
    rig.tick()
    assert rig.amazon.count("replenish") == 1
    rig.clock.t = first_at
    rig.tick()
    assert rig.amazon.count("replenish") == 2 and rig.d["n"] == 2
    assert rig.d["at"] - rig.clock.now() >= first_at - T0  # growing
    rig.clock.t = rig.d["at"]
    rig.tick()
    assert rig.amazon.placed == 1 and rig.st == "ordered"


def test_lost_answer_after_order_placed_is_adopted_on_retry():
    rig = Rig()
    rig.amazon.script["replenish"] = [("after", errors.NetworkError("read timeout"))]
    rig.tick()
    assert rig.amazon.placed == 1 and rig.st == "ordering"
    rig.clock.t = rig.d["at"]
    rig.tick()
    assert rig.amazon.placed == 1
    assert rig.st == "ordered" and rig.d["eid"] == "amzn1.dash.v2.o.0001"
    assert rig.events.kinds()[-1] == "order_adopted"


def test_unmapped_exception_is_treated_as_transient():
    rig = Rig()
    rig.amazon.script["replenish"] = [OSError(113, "EHOSTUNREACH")]
    rig.tick()
    assert rig.st == "ordering" and rig.d["at"] > T0
    assert rig.events.of("net_error")[0]["kind"] == "NetworkError"


def test_transient_errors_forever_is_not_a_storm():
    rig = Rig()
    rig.amazon.script["replenish"] = [errors.ServerError("503") for _ in range(1000)]
    rig.run(48, step=60)  # a tick every minute for two days
    assert 5 <= rig.amazon.count("replenish") <= 16
    assert rig.st == "ordering" and rig.amazon.placed == 0


@pytest.mark.parametrize(
    "exc,event",
    [
        (errors.AuthError("invalid_grant"), "auth_error"),
        (errors.InvalidToken("Invalid token"), "auth_error"),
    ],
)
def test_permanent_error_stops_ordering_with_long_hold(exc, event):
    rig = Rig()
    rig.amazon.script["replenish"] = [exc, exc]
    rig.tick()
    assert rig.st == "idle" and rig.d["h"] >= T0 + 6 * HOUR
    ev = rig.events.of(event)[0]
    assert ev["op"] == "replenish" and ev["kind"] == type(exc).__name__
    hold = rig.d["h"]
    rig.run((hold - T0) // HOUR - 1)  # low all along: nothing until the hold ends
    rig.clock.t = hold - 1
    rig.tick()
    assert rig.amazon.count("replenish") == 1
    rig.clock.t = hold
    rig.tick()
    assert rig.amazon.count("replenish") == 2
    assert rig.d["h"] - rig.clock.now() > hold - T0  # the second hold is longer
    rig.clock.t = rig.d["h"]
    rig.tick()  # Amazon is fine again
    assert rig.amazon.placed == 1 and rig.st == "ordered"
    assert "h" not in rig.d and "pe" not in rig.d


@pytest.mark.parametrize("exc", [errors.BadRequest("400"), errors.UnknownSlot("404")])
def test_replenish_refused_with_4xx_is_possibly_placed(exc):
    """Amazon may have placed the order and still answered 400/404: wait for the
    refill such an order would bring, then ask again if none came."""
    rig = Rig()
    rig.amazon.script["replenish"] = [exc]
    rig.tick()
    assert rig.st == "possibly_placed" and rig.d["ua"] == T0
    assert rig.events.of("net_error")[0]["kind"] == type(exc).__name__
    assert rig.events.of("possibly_placed")[0]["until"] == T0 + slot.refill_wait(rig.cfg)
    rig.run(slot.refill_wait(rig.cfg) // HOUR - 1)
    assert rig.amazon.count("replenish") == 1
    rig.run(2)
    assert rig.amazon.placed == 1 and rig.st == "ordered"


@pytest.mark.parametrize("deliver_after", [HOUR, 2 * DAY, 6 * DAY + 5 * HOUR])
def test_polls_go_with_the_daily_report_and_the_expected_delivery(deliver_after):
    rig = Rig(deliver_after=deliver_after)
    rig.tick()
    polls = []
    for _ in range(8 * 24):  # (8.5 days after delivered a refill not seen is given up)
        rig.clock.advance(HOUR)
        before = rig.amazon.count("order_info")
        rig.tick()
        if rig.amazon.count("order_info") > before:
            polls.append(rig.clock.now())
    statuses = [e["status"] for e in rig.events.of("order_status")]
    # each poll on the first hourly pass after the report time
    assert all((p - T0) % DAY == REPORT_AT + HOUR - REPORT_AT % HOUR for p in polls)
    if deliver_after < REPORT_AT:  # delivered before the first look
        assert statuses == ["Closed"] and len(polls) == 1
    else:  # one look to see it authorized, one after the expected delivery
        assert statuses == ["Authorized", "Closed"] and len(polls) == 2
        assert polls[1] - T0 - deliver_after < DAY
    assert rig.st == "delivered"
    assert rig.events.of("delivered")[0]["eid"] == rig.d["eid"]


def test_unknown_status_keeps_polling_with_backoff():
    rig = Rig()
    rig.tick()
    item = {"slotId": SID, "status": "Unknown"}
    rig.amazon.script["order_info"] = [[item] for _ in range(50)]
    rig.run(4 * 24)
    assert rig.st == "ordered"
    n = rig.amazon.count("order_info")
    assert 4 <= n <= 9
    assert rig.d["at"] - rig.clock.now() <= DAY


def test_poll_transient_error_retries_later():
    rig = Rig()
    rig.tick()
    rig.amazon.script["order_info"] = [errors.ServerError("502")]
    rig.clock.t = rig.d["at"]
    rig.tick()
    assert rig.st == "ordered" and rig.d["at"] > rig.clock.now()
    assert rig.events.of("net_error")[-1]["op"] == "getOrderInfo"
    rig.clock.t = rig.d["at"]
    rig.tick()
    assert rig.amazon.count("order_info") == 2
    assert rig.events.of("order_status")[-1]["status"] in ("Pending", "Authorized")
    assert rig.d["n"] == 0 and rig.d["os"] == rig.events.of("order_status")[-1]["status"]


def test_unknown_eid_goes_inflight():
    rig = Rig()
    rig.amazon.script["replenish"] = [("ORDER_INPROGRESS", "eid-foreign")]
    rig.tick()
    rig.clock.t = rig.d["at"]
    rig.tick()  # FakeAmazon does not know eid-foreign: 404
    assert rig.st == "inflight"
    rig.run(48)
    assert rig.amazon.count("replenish") == 1


def test_order_never_closed_stops_tracking_after_21_days_without_a_second_order():
    # Pending/Authorized forever: tracking ends after 21 days; the slot is still low,
    # so it asks again, and Amazon (still holding the order) answers ORDER_INPROGRESS.
    rig = Rig(deliver_after=365 * DAY)
    rig.tick()
    eid = rig.d["eid"]
    rig.run(21 * 24 - 1)
    assert rig.st == "ordered" and rig.events.of("order_untracked") == []
    polls = rig.amazon.count("order_info")
    assert polls <= 26  # daily at most once nothing changes
    rig.run(1)
    assert rig.events.of("order_untracked") == [
        {
            "ev": "order_untracked",
            "t": T0 + 21 * DAY,
            "slot": SID,
            "eid": eid,
            "status": "Authorized",
        }
    ]
    assert rig.amazon.placed == 1 and rig.amazon.count("replenish") == 2
    assert rig.st == "ordered" and rig.d["eid"] == eid  # adopted again, tracked again
    assert rig.events.kinds()[-1] == "order_adopted"
    rig.run(30 * 24)  # another cycle: still one order, one replenish per 21 days
    assert rig.amazon.placed == 1 and rig.amazon.count("replenish") == 3


def test_order_never_closed_with_refill_seen_rearms_after_21_days():
    rig = Rig(deliver_after=365 * DAY)
    rig.tick()
    rig.clock.advance(3 * DAY)
    rig.slot.on_refill(rig.clock.now())  # only marked while the order is tracked
    assert rig.st == "ordered" and rig.d["rf"] == 1
    rig.run(18 * 24, want=None, level=0.9)
    assert rig.st == "idle" and "rf" not in rig.d and rig.d["eid"] is None
    assert rig.saves[-1]["st"] == "idle"
    assert rig.amazon.count("replenish") == 1
    rig.amazon.cancel("amzn1.dash.v2.o.0001")  # (Amazon gave up on it too)
    rig.run(1)  # the next low episode orders: re-armed
    assert rig.amazon.placed == 2 and rig.st == "ordered"


def _unknown_forever(rig, days):
    item = {"slotId": SID, "status": "Unknown"}
    rig.amazon.script["order_info"] = [[item] for _ in range(1000)]
    rig.run(days * 24)


def test_unknown_run_stops_tracking_and_inprogress_protects_the_retry():
    rig = Rig(deliver_after=365 * DAY)  # Amazon still holds the order (merely late)
    rig.tick()
    _unknown_forever(rig, 4)
    assert rig.st == "ordered"  # a few Unknown answers are not yet a dead order
    while not rig.events.of("order_untracked"):
        assert rig.clock.now() < T0 + 5 * DAY
        rig.run(1)
    assert rig.amazon.count("order_info") == 9  # polls 1 h .. 1 day apart, ~4 days
    ev = rig.events.of("order_untracked")
    assert ev[0]["status"] == "Unknown" and ev[0]["t"] > T0 + 4 * DAY
    # still low: asked again, but Amazon still holds the order -> adopted, no new one
    assert rig.amazon.count("replenish") == 2 and rig.amazon.placed == 1
    assert rig.st == "ordered" and rig.d["n"] == 0


def test_unknown_run_for_an_order_amazon_dropped_orders_again():
    rig = Rig()
    rig.tick()
    rig.amazon.open.clear()  # the errored order is not in progress at Amazon any more
    _unknown_forever(rig, 5)
    assert rig.events.kinds().count("order_untracked") == 1
    assert rig.amazon.placed == 2 and rig.st == "ordered"


def test_transient_poll_errors_alone_never_end_tracking():
    rig = Rig()
    rig.tick()
    rig.amazon.script["order_info"] = [errors.ServerError("503") for _ in range(100)]
    rig.run(15 * 24)
    assert rig.st == "ordered" and rig.amazon.count("replenish") == 1
    assert rig.d["n"] >= 9 and rig.events.of("order_untracked") == []


def test_every_poll_is_saved_so_a_reboot_does_not_poll_at_once():
    rig = Rig(deliver_after=10 * DAY)
    rig.tick()
    rig.run(30)  # one poll (Authorized); the next one with a later daily report
    last = rig.saves[-1]
    assert last["at"] == rig.d["at"] and last["os"] == "Authorized"
    assert last["at"] > rig.clock.now()
    # a transient error: the backoff attempt and the next try are on flash too
    rig.amazon.script["order_info"] = [errors.ServerError("502")]
    rig.clock.t = rig.d["at"]
    rig.tick()
    assert rig.saves[-1]["n"] == 1 and rig.saves[-1]["at"] == rig.d["at"] > rig.clock.now()
    # reboot from flash, ticking hourly: nothing until the saved poll time
    rig.slot = rig.build(json.loads(json.dumps(rig.saves[-1])))
    calls = len(rig.amazon.calls)
    at = rig.d["at"]
    while rig.clock.now() + HOUR < at:
        rig.clock.advance(HOUR)
        rig.tick()
    assert len(rig.amazon.calls) == calls
    rig.clock.t = at
    rig.tick()
    assert len(rig.amazon.calls) == calls + 1


def test_delivered_waits_for_refill_then_rearms():
    rig = Rig()
    rig.tick()
    rig.run(4 * 24)
    assert rig.st == "delivered"
    n_calls = len(rig.amazon.calls)
    rig.run(5 * 24)  # still low (not put in yet): no new order, no polling
    assert len(rig.amazon.calls) == n_calls
    rig.slot.on_refill(rig.clock.now())
    assert rig.st == "idle" and rig.d["eid"] is None
    rig.run(1, want=None, level=0.9)
    assert rig.amazon.placed == 1
    rig.run(1)  # a new low episode orders again
    assert rig.amazon.placed == 2 and rig.st == "ordered"


def test_delivered_without_a_refill_seen_gives_up_waiting():
    # the refill is never recognised (put in while the device was off, a sensor that
    # missed the rise): the slot must not wait for it forever
    rig = Rig()
    rig.tick()
    rig.run(4 * 24)
    assert rig.st == "delivered"
    since = rig.d["since"]
    rig.clock.t = since + slot.refill_wait(rig.cfg) - HOUR
    rig.tick()  # still low, within the wait: no second order
    assert rig.amazon.placed == 1 and rig.st == "delivered"
    rig.run(2)
    assert rig.events.of("refill_overdue")
    assert rig.amazon.placed == 2 and rig.st == "ordered"  # still low: ordered again


def test_refill_while_ordered_keeps_tracking_then_rearms_on_close():
    rig = Rig()
    rig.tick()
    # the parcel arrived and was put in before our next (sparse) poll saw Closed
    rig.clock.advance(2 * DAY + HOUR)
    rig.slot.on_refill(rig.clock.now())
    assert rig.st == "ordered" and rig.saves[-1]["rf"] == 1
    rig.clock.t = max(rig.clock.t, rig.d["at"])
    rig.tick(want=None, level=0.95)
    assert rig.events.of("delivered") and rig.st == "idle" and "rf" not in rig.d
    rig.run(24, want=None, level=0.9)
    rig.run(1)  # the next low episode orders again
    assert rig.amazon.placed == 2


def test_refill_while_ordered_then_canceled_is_idle_not_cooldown():
    rig = Rig()
    rig.tick()
    rig.slot.on_refill(T0 + 10)
    rig.amazon.cancel(rig.d["eid"])
    rig.clock.t = rig.d["at"]
    rig.tick(want=None, level=0.95)
    assert rig.events.of("canceled") and rig.st == "idle"


def test_refill_while_ordering_abandons_retry():
    rig = Rig()
    rig.amazon.script["replenish"] = [errors.ServerError("500")]
    rig.tick()
    rig.slot.on_refill(T0 + 10)
    assert rig.st == "idle"
    rig.run(24, want=None, level=0.9)
    assert rig.amazon.count("replenish") == 1


def test_cancel_cooldown_then_reorder():
    rig = Rig(cfg=slot_cfg(SID, cooldown_days=2))
    rig.tick()
    eid = rig.d["eid"]
    rig.amazon.cancel(eid)
    rig.clock.t = rig.d["at"]
    rig.tick()
    assert rig.st == "cooldown"
    assert rig.events.of("canceled") == [
        {"ev": "canceled", "t": rig.clock.now(), "slot": SID, "eid": eid}
    ]
    assert rig.d["at"] == rig.clock.now() + 2 * DAY
    end = rig.d["at"]
    rig.run(47)  # still low during the cool-down: no order
    assert rig.amazon.placed == 1 and rig.clock.now() < end
    rig.clock.t = end
    rig.tick()  # cool-down over, still low: order again
    assert rig.amazon.placed == 2 and rig.st == "ordered" and rig.d["eid"] != eid


def test_refill_in_cooldown_rearms():
    rig = Rig()
    rig.tick()
    rig.amazon.cancel(rig.d["eid"])
    rig.clock.t = rig.d["at"]
    rig.tick()
    rig.slot.on_refill(rig.clock.now())
    assert rig.st == "idle"


def test_persisted_slot_dict_is_small():
    rig = Rig()
    rig.tick()
    rig.run(30)
    lead_time = {"lh", "lp", "le"}  # leadtime.py's keys
    assert set(rig.d) <= {"st", "eid", "since", "at", "n", "os", "h", "pe", "rf"} | lead_time
    assert len(json.dumps(rig.d)) < 160


def test_boot_knows_every_key_and_state_of_the_machine():
    """The after-boot check (boot.repair_slot) lists the machine's keys by the kind of
    value they hold, and its states: a key or state added here must be added there."""
    from drsagent import agent, boot, estimator

    keys = {v for k, v in vars(slot).items() if k.startswith("_K_")} | {agent._K_REPORT_PENDING}
    assert keys == {"st", *boot._NUMBER_KEYS, *boot._TEXT_KEYS}
    # the estimator's scalar keys too (its day history and today are lists, usage.py's)
    scalars = {v for k, v in vars(estimator).items() if k.startswith("_K_")} - {"uh", "ud"}
    assert scalars == set(boot._ESTIMATOR_KEYS)
    source = Path(slot.__file__).read_text()
    states = set(re.findall(r'_go\(d, "(\w+)"', source) + re.findall(r'_STATE\] = "(\w+)"', source))
    assert states == {*boot._ORDER_STATES, *boot._OTHER_STATES}


# -- power loss at every save of a whole order cycle --------------------------

# put in soon after delivery (before a poll saw Closed), or days later (from "delivered")
EARLY = T0 + 2 * DAY + 5 * HOUR
LATE = T0 + 4 * DAY
END = T0 + 7 * DAY


def _cycle(crash_at=None, after_next_call=False, refill_at=LATE):
    """One low episode: low until refill_at, then full. Power is cut at save #crash_at
    (right after it, or right after the next DRS call reached Amazon); the slot then
    reboots from what was on flash. Returns (amazon, flash, saves, states at crash)."""
    clock = FakeClock()
    amazon = FakeAmazon(clock)
    flash = {"d": new_state(T0)}
    n = {"saves": 0}
    crashed = []

    def build():
        d = json.loads(json.dumps(flash["d"]))
        slot = Slot(SID, slot_cfg(SID), d, amazon, lambda: save(d), Events())
        return slot

    def save(d):
        flash["d"] = json.loads(json.dumps(d))
        n["saves"] += 1
        if n["saves"] == crash_at:
            crashed.append(flash["d"]["st"])
            if after_next_call:
                amazon.crash_after_next = True
            else:
                raise PowerCut()

    slot = build()
    refilled = False
    while clock.now() < END:
        try:
            if clock.now() >= refill_at and not refilled:
                refilled = True
                slot.on_refill(clock.now())
            low = clock.now() < refill_at
            slot.tick(clock.now(), "floor" if low else None, True, level=0.05 if low else 0.95)
        except PowerCut:
            slot = build()  # reboot: only the flash survives
        clock.advance(HOUR)
    amazon.crash_after_next = False
    return amazon, flash["d"], n["saves"], crashed


@pytest.mark.parametrize("refill_at", [EARLY, LATE], ids=["early-refill", "late-refill"])
def test_cycle_without_power_loss(refill_at):
    amazon, flash, saves, _ = _cycle(refill_at=refill_at)
    assert amazon.placed == 1 and amazon.count("replenish") == 1
    assert flash["st"] == "idle"
    assert saves >= 4


@pytest.mark.parametrize("refill_at", [EARLY, LATE], ids=["early-refill", "late-refill"])
@pytest.mark.parametrize("after_next_call", [False, True], ids=["after-save", "after-call"])
def test_power_loss_at_every_save_never_orders_twice(after_next_call, refill_at):
    _, _, total, _ = _cycle(refill_at=refill_at)
    seen_states = set()
    for k in range(1, total + 1):
        amazon, flash, _, crashed = _cycle(k, after_next_call, refill_at)
        assert crashed, k
        seen_states.add(crashed[0])
        assert amazon.placed == 1, (k, crashed)
        assert flash["st"] == "idle", (k, crashed, flash)
        if crashed[0] == "ordering":
            # the latch says "maybe sent": at most one retry, answered ORDER_INPROGRESS
            # when the first one got through
            assert amazon.count("replenish") <= 2
        else:
            assert amazon.count("replenish") == 1, (k, crashed)
    must = {"ordering", "ordered", "idle"} | ({"delivered"} if refill_at == LATE else set())
    assert must <= seen_states


@pytest.mark.micropython
@needs_micropython
def test_untracking_on_micropython(mpy):
    out = mpy(
        """
        import json
        from drsagent import slot
        class Sink:
            def __init__(self):
                self.ev = []
                self.saves = 0
            def emit(self, ev, **kw):
                self.ev.append(ev)
            def save(self):
                self.saves += 1
        class Drs:
            n = 0
            polls = 0
            def token(self, op):
                return "access-token"
            def replenish(self, sid):
                Drs.n += 1
                return ("ORDER_INPROGRESS" if Drs.n > 1 else "STANDARD_ORDER_PLACED", "e1")
            def order_info(self, eid):
                Drs.polls += 1
                return [{"slotId": "x", "status": "Authorized"}]
        a = Sink()
        machine = slot.OrderMachine(Drs(), a.save, a.emit, {"test_orders": False}, 10800)
        d = slot.new_state(0)
        for h in range(21 * 24 + 1):
            machine.tick("x", {"cooldown_days": 2}, d, 1767225600 + h * 3600, "floor", 0.05)
        print(json.dumps({"ev": a.ev, "st": d["st"], "n": Drs.n, "polls": Drs.polls,
                          "saves": a.saves}))
        """
    )
    r = json.loads(out)
    assert r["ev"] == [
        "low",
        "order_placed",
        "order_status",
        "order_untracked",
        "low",
        "order_adopted",
    ]
    assert r["st"] == "ordered" and r["n"] == 2
    assert r["polls"] <= 26 and r["saves"] >= r["polls"]
