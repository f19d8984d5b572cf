"""Power loss at every point, enumerated (issue 12, section 2).

A full order cycle (low -> token -> replenish -> tracking -> delivered -> refill, or a
customer cancel and the reorder after the cool-down) is run once to count its I/O
points (flash writes: create/close/rename of each file; network: send/answer of each
request). Then, for every point in turn and every off-duration, the same cycle runs
again on a fresh device with the power cut at that point; the device boots from what
is on its flash when the power comes back. Every trial checks:

* exactly one order for the episode (no duplicate, by the emulator's order book);
* liveness: the slot that stays low gets its order, it is delivered and put in;
* state readable and secrets intact at every boot (DeviceRig.check_flash);
* no secret in any event the firmware emitted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from host_tests.proof.rig import HOUR, DeviceRig

DAY_H = 24
MINUTES = 600  # "off for minutes": back at the next hourly pass
DURATIONS_S = (MINUTES, 6 * HOUR, 26 * HOUR, 40 * HOUR)  # past the delivery, past the refill
# Long enough for the worst case: a cut that leaves the latch on flash without the answer,
# off past the retry window, then the wait for a refill (3 days with a 1-day lead time),
# the reorder's delivery and refill; with a cancel also the 2-day cool-down before the
# reorder whose latch that cut leaves (2 + 40 h off + 3 + 1 days + the put-in: over 8).
HORIZON_H = {"cycle": 5 * DAY_H, "cancel": 9 * DAY_H}


@dataclass
class Trial:
    """One power cut and what came of it."""

    point: int
    label: str
    off_s: int
    orders: int = 0
    duplicates: int = 0
    delivered: bool = False
    problems: list[str] = field(default_factory=list)


def secrets_in(rig: DeviceRig, text: str) -> list[str]:
    """Which of the device's secrets appear in text."""
    lwa = rig.secrets["lwa"]
    return [k for k in ("client_secret", "refresh_token") if lwa[k] in text]


def _cycle(rig: DeviceRig, scenario: str) -> None:
    """Run one episode for the horizon; with "cancel" the customer cancels the first
    order an hour after it is placed."""
    canceled = False
    for _ in range(HORIZON_H[scenario]):
        rig.hour()
        if scenario == "cancel" and not canceled:
            orders = rig.orders()
            if orders:
                rig.control.cancel_order(orders[0]["event_instance_id"])
                canceled = True


def check(rig: DeviceRig, scenario: str) -> list[str]:
    """The invariants after a trial; the problems found (empty: all hold)."""
    problems = []
    orders = rig.orders()
    first_refill = rig.refills[0][0] if rig.refills else None
    live = [o for o in orders if not o.get("canceled_at")]
    before = [o for o in live if first_refill is None or int(o["created_at"]) < first_refill]
    if rig.duplicates():
        problems.append(f"duplicate orders: {[o['created_at'] for o in orders]}")
    if len(before) != 1:
        problems.append(f"{len(before)} live orders in the episode")
    if first_refill is None:
        problems.append("never delivered and put in (liveness)")
    if scenario == "cancel" and not any(o.get("canceled_at") for o in orders):
        problems.append("the cancel did not happen")
    leaked = secrets_in(rig, json.dumps(rig.events))
    if leaked:
        problems.append(f"secrets in events: {leaked}")
    return problems


def enumerate_cuts(
    make_rig: Callable[..., DeviceRig],
    scenario: str = "cycle",
    durations: tuple[int, ...] = DURATIONS_S,
    stride: int = 1,
    labels: tuple[str, ...] = (),
    one_duration_each: bool = False,
    **opts: Any,
) -> list[Trial]:
    """Cut the power at every ``stride``-th I/O point of the episode (or only at points
    whose label starts with one of ``labels``), for each off-duration (or, with
    ``one_duration_each``, for one of them in turn: a quicker sample). Each device
    starts fresh, so a cut may land in its very first pass; the points are counted
    from the start."""
    opts = {"installed": False, **opts}
    dry = make_rig(**opts)
    _cycle(dry, scenario)
    assert not check(dry, scenario), check(dry, scenario)
    end = dry.refills[0][0]
    # Points up to the refill that ends the episode (later ones belong to the next).
    points = [
        (i + 1, label)
        for i, label in enumerate(dry.switch.labels)
        if i < _points_before(dry, end) and (not labels or label.startswith(labels))
    ]
    trials = []
    for index, (point, label) in enumerate(points[::stride]):
        chosen = [durations[index % len(durations)]] if one_duration_each else durations
        for off_s in chosen:
            rig = make_rig(**opts)
            rig.cut(off_s, point=point)
            _cycle(rig, scenario)
            trial = Trial(point, label, off_s, len(rig.orders()), rig.duplicates())
            trial.delivered = bool(rig.refills)
            if not rig.cuts:
                trial.problems.append("the power was never cut")
            trial.problems += check(rig, scenario)
            trials.append(trial)
    return trials


def _points_before(rig: DeviceRig, t: int) -> int:
    """How many I/O points the device had done by time t (recorded per pass)."""
    return max((n for when, n in rig.points_at if when < t), default=0)
