"""How much a device asks of Amazon: an order cycle and a quiet day, on both runtimes.

The firmware gathers its calls into the daily report pass (one LwA token for the
report, the pending slot reports and the due polls), so an order cycle costs at most 6
requests beyond the quiet days' 2 (one token, one deviceStatus).
"""

from __future__ import annotations

from drsctl.sim.report import duplicate_orders, request_figures

DAYS = 30


def test_order_cycles_stay_within_the_request_budget(make_sim):
    # two slots, fast enough use for several cycles in a month
    sim = make_sim(levels=[0.6, 0.35], daily_use=[0.09, 0.07])
    for _ in range(DAYS * 24):
        sim.step()
    orders = sim.orders()
    assert len(orders) >= 4
    assert duplicate_orders(orders, sim.timeline.refills) == 0
    assert sum(len(w.stockout_days) for w in sim.worlds) == 0
    figures = request_figures(sim.requests(), orders, sim.timeline.refills, sim.opts.start, DAYS)
    assert figures["requests_per_order_cycle"] <= 6
    assert figures["requests_per_device_day_steady"] <= 2
    routes = [r["route"] for r in sim.requests()]
    # the polls follow the expected delivery: about two per order, not a dozen
    assert routes.count("getOrderInfo") <= 2 * len(orders) + 1
    assert routes.count("token") <= DAYS + 1 + len(orders)  # daily, plus each order's pass
