"""A small model of Amazon for the property tests: the layer below the agent's DRS
client calls, in memory, so Hypothesis can try hundreds of fault sequences a second.

It keeps DRS's one rule that matters here: ``replenish`` answers ``ORDER_INPROGRESS``
while the slot has an order that is neither delivered nor canceled, and places a new
order otherwise. Each call can be given a fault: ``before`` (the request never left:
nothing happens at Amazon), ``lost`` (Amazon acts, the answer is lost: a timeout),
``malformed`` (Amazon acts, the answer is garbage), or a status answer ``500``,
``429``, ``400``, ``404`` (nothing happens), ``400-after``/``404-after`` (Amazon acts,
then answers that status).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from host_tests.proof.power import PowerCut

HOUR = 3600

FAULTS = ("before", "lost", "malformed", "500", "429", "400", "404", "400-after", "404-after")


@dataclass
class ModelOrder:
    eid: str
    slot: str
    created: int
    delivered_at: int
    canceled_at: int | None = None

    def open_at(self, t: int) -> bool:
        return self.canceled_at is None and t < self.delivered_at


@dataclass
class AmazonModel:
    """Orders by slot on the test's clock; ``fault`` applies to the next calls."""

    delivery_s: int
    now: int = 0
    orders: list[ModelOrder] = field(default_factory=list)
    fault: str | None = None
    calls: list[tuple[int, str]] = field(default_factory=list)
    switch: Any = None  # a power.PowerSwitch: the device can lose power around a call

    def order_json(self) -> list[dict[str, Any]]:
        """The orders as the emulator's control API lists them (for duplicate_orders)."""
        return [
            {
                "slot_id": o.slot,
                "event_instance_id": o.eid,
                "amazon_order_id": o.eid,
                "created_at": o.created,
                "delivered_at": o.delivered_at if o.delivered_at <= self.now else None,
                "canceled_at": o.canceled_at,
            }
            for o in self.orders
        ]

    def cancel_open(self, t: int) -> None:
        for o in self.orders:
            if o.open_at(t) and t - o.created < 24 * HOUR:
                o.canceled_at = t

    # -- the DRS client surface the agent uses --------------------------------------------

    def _call(self, op: str, act: Any) -> Any:
        from drsagent import errors

        self.calls.append((self.now, op))
        if self.switch is not None and self.switch.point("send " + op):
            raise PowerCut(op)  # nothing left the device
        fault = self.fault
        if fault == "before":
            raise getattr(errors, "NotSent", errors.NetworkError)("connect: refused")
        if fault in ("500", "429", "400", "404"):
            raise {
                "500": errors.ServerError,
                "429": errors.Throttled,
                "400": errors.BadRequest,
                "404": errors.UnknownSlot,
            }[fault](f"{op} HTTP {fault}")
        result = act()
        if self.switch is not None and self.switch.point("answer " + op):
            raise PowerCut(op)  # Amazon acted; the answer dies with the device
        if fault == "lost":
            raise errors.NetworkError(f"{op}: timed out")
        if fault == "malformed":
            raise errors.BadResponse("not JSON")
        if fault in ("400-after", "404-after"):
            kind = errors.BadRequest if fault == "400-after" else errors.UnknownSlot
            raise kind(f"{op} HTTP {fault[:3]}")
        return result

    def token(self, op: str) -> str:
        """DrsClient.token: the model has no LwA (its calls carry no token)."""
        return "access-token"

    def replenish(self, slot: str) -> tuple[str, str | None]:
        def act() -> tuple[str, str | None]:
            for o in self.orders:
                if o.slot == slot and o.open_at(self.now):
                    return "ORDER_INPROGRESS", None
            eid = f"amzn1.dash.v2.o.model-{len(self.orders) + 1}"
            self.orders.append(ModelOrder(eid, slot, self.now, self.now + self.delivery_s))
            return "STANDARD_ORDER_PLACED", eid

        return self._call("replenish", act)

    def order_info(self, eid: str) -> list[dict[str, Any]]:
        def act() -> list[dict[str, Any]]:
            order = next((o for o in self.orders if o.eid == eid), None)
            if order is None:
                from drsagent import errors

                raise errors.UnknownSlot("getOrderInfo HTTP 404")
            if order.canceled_at is not None:
                status = "Canceled"
            elif self.now >= order.delivered_at:
                status = "Closed"
            elif self.now - order.created < HOUR:
                status = "Pending"
            else:
                status = "Authorized"
            return [{"slotId": order.slot, "status": status}]

        return self._call("getOrderInfo", act)

    def slot_status(self, *args: Any, **kwargs: Any) -> None:
        self._call("slotStatus", lambda: None)

    def device_status(self, *args: Any, **kwargs: Any) -> None:
        self._call("deviceStatus", lambda: None)
