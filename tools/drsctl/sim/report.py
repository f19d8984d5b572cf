"""Turn a simulation's timeline into a summary, a story and a plot."""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from drsctl.sim.consumption import DAY
from drsctl.sim.harness import Simulation, Timeline


def duplicate_orders(orders: list[dict[str, Any]], refills: list[tuple[int, str]]) -> int:
    """Orders placed while the slot's previous order was live and no refill came between.

    A canceled order ends its episode (the slot may order again after its
    cool-down); a refill ends it too. Anything else is a second order for the same
    empty slot: the one thing the agent must never do.
    """
    refill_times: dict[str, list[int]] = defaultdict(list)
    for t, slot in refills:
        refill_times[slot].append(t)
    duplicates = 0
    by_slot: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for order in sorted(orders, key=lambda o: (o["created_at"], o["amazon_order_id"])):
        by_slot[order["slot_id"]].append(order)
    for slot, slot_orders in by_slot.items():
        live: dict[str, Any] | None = None
        for order in slot_orders:
            created = int(order["created_at"])
            if live is not None:
                canceled = live.get("canceled_at")
                refilled = any(int(live["created_at"]) < t <= created for t in refill_times[slot])
                if not refilled and not (canceled and int(canceled) <= created):
                    duplicates += 1
            live = order
    return duplicates


def _day_of(t: int, start: int) -> int:
    return (int(t) - (start - start % DAY)) // DAY


def request_figures(
    requests: list[dict[str, Any]],
    orders: list[dict[str, Any]],
    refills: list[tuple[int, str]],
    start: int,
    days: float,
) -> dict[str, float]:
    """Requests per device-day outside order cycles, and per order cycle.

    An order cycle runs from the day the order is placed to the day after the refill
    that followed its delivery (the refill is reported with the next daily report),
    or to the day after a cancel; the other days are the steady state.
    """
    total_days = max(1, int(days))
    end_of_run = start + total_days * DAY
    busy: set[int] = set()
    for order in orders:
        end_t = order.get("canceled_at") or end_of_run
        if order.get("delivered_at"):
            after = [t for t, slot in refills if slot == order["slot_id"]]
            end_t = min((t for t in after if t >= order["delivered_at"]), default=end_of_run)
        busy.update(range(_day_of(order["created_at"], start), _day_of(end_t, start) + 2))
    per_day: dict[int, int] = defaultdict(int)
    for request in requests:
        per_day[_day_of(request["t"], start)] += 1
    steady_days = [d for d in range(total_days) if d not in busy]
    steady = sum(per_day[d] for d in steady_days) / len(steady_days) if steady_days else 0.0
    busy_days = [d for d in busy if 0 <= d < total_days]
    busy_extra = sum(per_day[d] for d in busy_days) - steady * len(busy_days)
    per_cycle = busy_extra / len(orders) if orders else 0.0
    return {
        "requests_per_device_day_steady": round(steady, 3),
        "requests_per_order_cycle": round(per_cycle, 2),
    }


def summarize(sim: Simulation, wall_seconds: float) -> dict[str, Any]:
    """The ``--json`` summary: the figures a device maker and the checks look at."""
    timeline = sim.timeline
    orders = sim.orders()
    requests = sim.requests()
    by_route: dict[str, int] = defaultdict(int)
    for request in requests:
        by_route[request.get("route") or request["path"].split("/")[1]] += 1
    days = sim.opts.days
    mem_alloc = [m for m in timeline.mem_alloc if m >= 0]
    net_errors: dict[str, int] = defaultdict(int)
    device_errors: list[str] = []
    for event in timeline.events:
        if event.get("ev") in ("net_error", "auth_error"):
            net_errors[f"{event.get('op', '?')}: {event.get('kind', event['ev'])}"] += 1
        if event.get("ev") in _STUCK_EVENTS:
            text = _STORY[event["ev"]].format_map(defaultdict(str, event))
            if text not in device_errors:
                device_errors.append(text)
    duplicates = duplicate_orders(orders, timeline.refills)
    stock_left = [left for w in sim.worlds for left in w.stock_left]
    cannot_stock = sorted({e["slot"] for e in timeline.events if e.get("ev") == "cannot_stock"})
    out_of_memory = sum(n for what, n in net_errors.items() if what.endswith(": MemoryError"))
    summary: dict[str, Any] = {
        "runtime": sim.opts.runtime,
        "heap": sim.opts.heap,
        "days": days,
        "slots": len(sim.worlds),
        "orders_placed": len(orders),
        "orders_delivered": sum(1 for o in orders if o.get("delivered_at")),
        "orders_canceled": sum(1 for o in orders if o.get("canceled_at")),
        "duplicate_orders": duplicates,
        "stockout_days": sum(len(w.stockout_days) for w in sim.worlds),
        "stockout_hours": sum(len(w.stockout_hours) for w in sim.worlds),
        # the true level when the household put the new container in
        "stock_left_mean": round(statistics.fmean(stock_left), 3) if stock_left else None,
        "stock_left_max": round(max(stock_left), 3) if stock_left else None,
        "cannot_stock": cannot_stock,
        "requests": len(requests),
        "requests_by_route": dict(sorted(by_route.items())),
        "requests_per_device_day": round(len(requests) / days, 3) if days else 0,
        "net_errors": dict(sorted(net_errors.items())),
        "orders": [
            {
                "slot": o["slot_id"],
                "created_at": o["created_at"],
                "delivered_at": o["delivered_at"],
                "status": o["status"],
            }
            for o in sorted(orders, key=lambda o: (o["created_at"], o["slot_id"]))
        ],
        "crashes": len(timeline.crashes),
        "crash_reasons": timeline.crashes[:5],
        "device_errors": device_errors,
        "failure": _failure(
            device_errors, timeline.crashes, duplicates, out_of_memory, sim.opts.heap
        ),
        "seller": sim.opts.seller,
        "peak_mem_alloc": max(mem_alloc) if mem_alloc else None,
        "wall_seconds": round(wall_seconds, 2),
        "device_days_per_second": round(days / wall_seconds, 2) if wall_seconds else None,
    }
    summary.update(request_figures(requests, orders, timeline.refills, sim.opts.start, days))
    return summary


# Errors a device cannot leave without a person fixing its flash or its credentials.
_STUCK_EVENTS = ("config_error", "auth_error")


def _failure(
    device_errors: list[str],
    crashes: list[str],
    duplicates: int,
    out_of_memory: int,
    heap: str | None,
) -> str | None:
    """Why the run failed (the first reason), or None."""
    if device_errors:
        return f"the device was stuck: {device_errors[0]}"
    if crashes:
        return f"the firmware crashed {len(crashes)} times; last: {crashes[-1]}"
    if out_of_memory:
        return (
            f"the firmware ran out of memory {out_of_memory} times"
            f" (MemoryError at -X heapsize={heap}); give it a larger --heap"
        )
    if duplicates:
        return f"{duplicates} duplicate orders"
    return None


def _stamp(t: int, start: int) -> str:
    since = int(t) - (start - start % DAY)
    return f"day {since // DAY + 1:>3} {since % DAY // 3600:02d}:{since % 3600 // 60:02d}"


_STORY = {
    "low": "level {level:.0%}, {reason} says order now",
    "order_placed": "order placed ({code}), event {eid}",
    "order_adopted": "Amazon already has an order out: adopted {eid}",
    "order_status": "order status is now {status}",
    "delivered": "order delivered",
    "canceled": "order canceled by the customer: cooling down",
    "order_untracked": "gave up following {eid} (last status {status}): re-armed",
    "refill": "refill seen (level {level:.0%}): re-armed",
    "sensor_fault": "sensor fault ({reason}): no orders from this slot",
    "sensor_ok": "sensor readings are sane again",
    "config_error": "configuration error: {msg}",
    "auth_error": "Login with Amazon refused the credentials: re-provision needed",
    "net_error": "{op} failed ({kind}): will retry with backoff",
    "cannot_stock": "CANNOT BE KEPT STOCKED: a container lasts {container_days} days, a "
    "delivery takes up to {lead_days}; fix: {fix}",
}


def story(timeline: Timeline, start: int) -> list[str]:
    """A readable account of what each slot went through."""
    lines: list[tuple[int, str]] = []
    for event in timeline.events:
        template = _STORY.get(event.get("ev", ""))
        if template is None:
            continue
        fields = defaultdict(str, event)
        if "level" in event:
            fields["level"] = float(event["level"])
        try:
            text = template.format_map(fields)
        except (ValueError, TypeError):
            text = event["ev"]
        where = event.get("slot") or "device"
        t = int(event.get("t", start))
        lines.append((t, f"{_stamp(t, start)}  {where:<8} {text}"))
    for t, slot in timeline.refills:
        lines.append((t, f"{_stamp(t, start)}  {slot:<8} (household put the delivered refill in)"))
    lines.sort(key=lambda line: line[0])  # stable: same-time events keep their order
    return [text for _, text in lines]


_ORDER_MARKS = (
    ("created_at", "order placed", {"color": "tab:orange", "ls": "--"}),
    ("delivered_at", "delivered", {"color": "tab:green"}),
    ("canceled_at", "canceled", {"color": "tab:red"}),
)


def _count(n: int, noun: str) -> str:
    """A count and its noun: 1 slot, 2 slots, 0 orders."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def plot(sim: Simulation, path: Path) -> Path:
    """Each slot's level over time with order, delivery and refill marks, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    timeline = sim.timeline
    day0 = sim.opts.start - sim.opts.start % DAY

    def day_of(t: float) -> float:
        return (t - day0) / DAY + 1  # day 1 is the first day, as in the story

    days = [day_of(t) for t in timeline.times]
    orders = sim.orders()
    fig, axes = plt.subplots(
        len(sim.worlds), 1, figsize=(10, 2.6 * len(sim.worlds)), sharex=True, squeeze=False
    )
    for ax, world in zip(axes[:, 0], sim.worlds, strict=True):
        ax.plot(days, [v * 100 for v in timeline.levels[world.slot_id]], lw=1.4, label="level")
        slot_orders = [o for o in orders if o["slot_id"] == world.slot_id]
        for field, label, style in _ORDER_MARKS:
            times = [o[field] for o in slot_orders if o.get(field)]
            for i, t in enumerate(times):
                ax.axvline(day_of(t), lw=1, label=label if i == 0 else None, **style)
        for i, d in enumerate(sorted(world.stockout_days)):
            label = "stockout" if i == 0 else None
            ax.axvspan(d + 1, d + 2, color="tab:red", alpha=0.15, label=label)
        # Each order's lead time: a bar from placed to delivered, its length in days.
        delivered = [o for o in slot_orders if o.get("delivered_at")]
        for i, order in enumerate(delivered):
            placed, arrived = day_of(order["created_at"]), day_of(order["delivered_at"])
            label = "lead time (days)" if i == 0 else None
            ax.hlines(103, placed, arrived, color="tab:purple", lw=3, label=label)
            ax.text((placed + arrived) / 2, 105, f"{arrived - placed:.1f}", ha="center", fontsize=6)
        ax.set_ylim(-5, 112)
        ax.set_ylabel(f"{world.slot_id}\nlevel %")
        ax.grid(alpha=0.3)
        # Outside the axes: inside, it hides the curve wherever it is drawn.
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    axes[-1, 0].set_xlabel("day")
    fig.suptitle(
        f"{_count(len(sim.worlds), 'slot')}, {sim.opts.days:g} days, "
        f"runtime {sim.opts.runtime}: {_count(len(orders), 'order')}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
