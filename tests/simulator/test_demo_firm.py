"""The simulator's copy of the demo firm's master data matches what the tower loads."""

from __future__ import annotations

from controltower.operations import demo
from simulator import demo_firm


def test_the_simulators_demo_firm_is_the_demo_data_the_tower_loads():
    assert demo_firm.CUSTOMERS == demo.CUSTOMERS
    assert demo_firm.RATE_CARDS == demo.RATE_CARDS
    assert demo_firm.RESOURCES == demo.RESOURCES
