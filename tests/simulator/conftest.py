from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

ERP = "/simulator/erp/services/rest/record/v1"


@pytest.fixture
def sim(live_server) -> Iterator[httpx.Client]:
    """An HTTP client on the live server, as the tower's outbound clients would be."""
    with httpx.Client(base_url=live_server.url, timeout=10.0) as client:
        yield client


@pytest.fixture(autouse=True)
def credentials_off(request, live_server) -> None:
    """The simulator's own tests call its ERP, PSA and HRIS without credentials, which they
    demand by default (as their vendors do), unless the test is about credentials."""
    if request.node.get_closest_marker("credentials") or "sim" not in request.fixturenames:
        return
    with httpx.Client(base_url=live_server.url, timeout=10.0) as client:
        for system in ("erp", "psa", "hris"):
            response = client.put(f"/simulator/{system}/_faults", json={"auth": "none"})
            assert response.status_code == 200, response.text


@pytest.fixture
def knobs(sim):
    """Sets a system's fault knobs through its API."""

    def set_knobs(system: str, **values) -> dict:
        response = sim.put(f"/simulator/{system}/_faults", json=values)
        assert response.status_code == 200, response.text
        return response.json()

    return set_knobs


@pytest.fixture
def at_once(live_server):
    """Sends the same request from several threads at the same moment, each on its own
    connection, as several workers of the tower would."""

    def send(count: int, method: str, path: str, **kwargs) -> list[httpx.Response]:
        start = threading.Barrier(count)

        def one(_: int) -> httpx.Response:
            with httpx.Client(base_url=live_server.url, timeout=60.0) as client:
                start.wait()
                return client.request(method, path, **kwargs)

        with ThreadPoolExecutor(max_workers=count) as pool:
            return list(pool.map(one, range(count)))

    return send
