"""A system's outbound rate limit holds across workers.

Two real worker processes push contracts to the simulated ERP and PSA, each limited to
30 calls a "minute" (the minute shortened to 3 s by a setting). The simulator's own log
of the calls it received must never show more than 30 in any 3 s.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest

from controltower.operations.demo import demo_load
from integrations.choices import FINAL_STATES, TransactionState
from integrations.models import ConnectedSystem, Transaction
from tests.support.inbound import contract_event, customer_event, events_post_over_http
from tests.support.simulator import simulator_client
from tests.support.worker import WorkerProcess, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

LIMIT = 30
WINDOW = 3.0


@pytest.fixture
def limited_workers(worker_env) -> Iterator[list[WorkerProcess]]:
    env = {**worker_env, "CT_RATE_LIMIT_WINDOW_SECONDS": str(WINDOW)}
    workers = [WorkerProcess(env, name="left"), WorkerProcess(env, name="right")]
    workers[0].start()
    workers[1].start(purge=False)
    try:
        yield workers
    finally:
        for worker in workers:
            worker.stop()


def calls(http: httpx.Client, system: str) -> list[datetime]:
    body = http.get(f"/{system}/_requests", params={"limit": 10_000}).json()
    return sorted(datetime.fromisoformat(c["received_at"]) for c in body["results"])


def busiest_window(times: list[datetime], window: timedelta) -> int:
    """The most calls any window of this length held (each window starting at a call)."""
    most, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= window:
            first += 1
        most = max(most, last - first + 1)
    return most


def test_two_workers_together_never_call_a_system_over_its_limit(live_server, limited_workers):
    demo_load()
    base = f"{live_server.url}/simulator"
    for slug in ("erp", "psa"):
        ConnectedSystem.objects.filter(slug=slug).update(
            base_url=f"{base}/{slug}", rate_limit_per_minute=LIMIT, rate_limit_burst=5
        )
    http = simulator_client(base, timeout=30)
    for slug in ("erp", "psa"):
        http.post(f"/{slug}/_reset")
    customers = [f"C-93{n:02d}" for n in range(8)]
    events_post_over_http(live_server.url, *(customer_event(n) for n in customers))
    for number, customer in enumerate(customers):
        events_post_over_http(
            live_server.url,
            *(
                contract_event(
                    f"K-93{number}{n}", customer=customer, project_code=f"P-93{number}{n}"
                )
                for n in range(5)
            ),
            system="clm",
        )
    wait_for(
        lambda: not Transaction.objects.exclude(state__in=FINAL_STATES).exists(),
        timeout=120,
        what="the workers to push every contract",
        on_timeout=lambda: "\n".join(w.tail(15) for w in limited_workers),
    )
    assert not Transaction.objects.exclude(state=TransactionState.SUCCEEDED).exists()
    for slug in ("erp", "psa"):
        received = calls(http, slug)
        assert len(received) > LIMIT  # enough calls that the limit had to hold them back
        assert busiest_window(received, timedelta(seconds=WINDOW)) <= LIMIT, slug
    http.close()
