from drsagent import config as config_schema
from drsagent import estimator
from drsagent.policy import decide

from host_tests.fakes import DAY, HOUR, T0, config, slot_cfg


def test_decide_floor():
    assert decide(0.08, 0.0, slot_cfg()) == "floor"
    assert decide(0.1, 0.0, slot_cfg()) == "floor"
    assert decide(0.11, 0.0, slot_cfg()) is None


def test_decide_forecast_only_under_ceiling():
    cfg = slot_cfg(lead_time_days=3, margin_days=1, order_ceiling=0.5)
    # 0.3 left at 0.1/day = 3 days <= 4: order
    assert decide(0.3, 0.1, cfg) == "forecast"
    # 0.45 at 0.1/day = 4.5 days > 4: wait
    assert decide(0.45, 0.1, cfg) is None
    # fast use but above the ceiling: never
    assert decide(0.55, 0.5, cfg) is None
    # no use measured: only the floor can trigger
    assert decide(0.2, 0.0, cfg) is None
    assert decide(None, 0.0, cfg) is None


def test_forecast_orders_before_running_out():
    d = {}
    cfg = slot_cfg(lead_time_days=3, margin_days=1)
    t = T0
    x = 0.9
    first = None
    while x > 0:
        estimator.update(d, cfg, x, t)
        if decide(estimator.level(d), estimator.daily_rate(d), cfg) and first is None:
            first = (t, x)
        x -= 0.1 / 24
        t += HOUR
    assert first is not None
    t_order, x_order = first
    # ordered with >= lead+margin (minus EMA lag) days of stock left, never above ceiling
    assert x_order <= 0.5
    assert (t - t_order) / DAY >= 3.5


def test_daily_use_prior_until_measured():
    cfg = slot_cfg(daily_use=0.1, lead_time_days=2, margin_days=1)
    assert decide(0.25, 0.0, cfg) == "forecast"  # 2.5 days by the prior
    assert decide(0.35, 0.0, cfg) is None
    # a measured rate wins over the prior
    assert decide(0.25, 0.02, cfg) is None


def test_decide_with_the_schema_defaults():
    # floor 0.1, order_ceiling 0.5, lead_time_days 3 + margin_days 1: from config.py only
    sparse = {"id": "x", "sensor": {"driver": "sim", "empty": 0, "full": 1}}
    cfg = config_schema.validate_config(config(sparse))["slots"][0]
    assert decide(0.09, 0.0, cfg) == "floor"
    assert decide(0.3, 0.1, cfg) == "forecast"
    assert decide(0.45, 0.1, cfg) is None
