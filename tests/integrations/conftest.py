"""The demo against the simulated systems over real HTTP, with an empty simulated ERP."""

from __future__ import annotations

import pytest

from controltower.operations.demo import demo_load
from tests.support.simulator import demo_systems_simulated, simulator_client


@pytest.fixture
def erp(live_server):
    """The demo loaded, its systems pointed at the simulator, the ERP reset; yields an HTTP
    client signed for the simulated ERP."""
    demo_load()
    base = f"{live_server.url}/simulator"
    demo_systems_simulated(base)
    with simulator_client(f"{base}/erp", timeout=10) as http:
        http.post("/_reset")
        yield http
