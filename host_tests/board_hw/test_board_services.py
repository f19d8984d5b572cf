"""Board services through fake machine/network/ntptime modules, on CPython and on
MicroPython (scenarios_services.py), plus the agent's side of "NTP first"."""

import pytest
from board_scenarios import scenario_names


@pytest.mark.parametrize("name", scenario_names("scenarios_services"))
def test_board_service_scenario(run_scenario, name):
    run_scenario("scenarios_services", name)
