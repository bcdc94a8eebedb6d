from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

ERP = "/simulator/erp/services/rest/record/v1"


@pytest.fixture
def sim(live_server) -> Iterator[httpx.Client]:
    """An HTTP client on the live server, as the tower's outbound clients would be."""
    with httpx.Client(base_url=live_server.url, timeout=10.0) as client:
        yield client


@pytest.fixture
def knobs(sim):
    """Sets a system's fault knobs through its API."""

    def set_knobs(system: str, **values) -> dict:
        response = sim.put(f"/simulator/{system}/_faults", json=values)
        assert response.status_code == 200, response.text
        return response.json()

    return set_knobs
