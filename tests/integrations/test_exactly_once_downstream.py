"""No record is created twice in another system, whatever the timing.

Two real worker processes (two pool processes each) run a customer's contracts signed
together, some delivered twice under new event ids, against the simulated ERP and PSA
over HTTP; the simulator answers slowly enough that the look-up and the create of two
workers overlap. Each customer, ERP job and PSA project must exist exactly once there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from controltower.operations.demo import demo_load
from integrations.choices import FINAL_STATES, TransactionState
from integrations.models import ConnectedSystem, Transaction
from tests.support.inbound import contract_event, customer_event, events_post_over_http
from tests.support.worker import WorkerProcess, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

CUSTOMERS = [f"C-91{n:02d}" for n in range(10)]
CONTRACTS_EACH = 4


@pytest.fixture
def simulator(live_server) -> Iterator[httpx.Client]:
    demo_load()
    base = f"{live_server.url}/simulator"
    ConnectedSystem.objects.filter(slug="erp").update(base_url=f"{base}/erp")
    ConnectedSystem.objects.filter(slug="psa").update(base_url=f"{base}/psa")
    with httpx.Client(base_url=base, timeout=30) as http:
        for system in ("erp", "psa"):
            http.post(f"/{system}/_reset")
            # Slow enough that two workers' look-ups and creates overlap.
            http.put(f"/{system}/_faults", json={"latency_ms": 250})
        yield http


@pytest.fixture
def two_workers(worker_env) -> Iterator[list[WorkerProcess]]:
    workers = [WorkerProcess(worker_env, name="alpha"), WorkerProcess(worker_env, name="beta")]
    workers[0].start()
    workers[1].start(purge=False)
    try:
        yield workers
    finally:
        for worker in workers:
            worker.stop()


def erp_external_ids(http: httpx.Client, record: str) -> Counter:
    body = http.get(f"/erp/services/rest/record/v1/{record}", params={"limit": 1000}).json()
    return Counter(item.get("externalId") for item in body["items"])


def psa_codes(http: httpx.Client) -> Counter:
    body = http.get("/psa/api/v1/projects", params={"limit": 1000}).json()
    items = body.get("results", body) if isinstance(body, dict) else body
    return Counter(item.get("code") for item in items)


def settle(workers: list[WorkerProcess], timeout: float = 150) -> None:
    wait_for(
        lambda: not Transaction.objects.exclude(state__in=FINAL_STATES).exists(),
        timeout=timeout,
        what="the workers to finish every transaction",
        on_timeout=lambda: "\n".join(w.tail(20) for w in workers)
        + f"\n{list(Transaction.objects.exclude(state__in=FINAL_STATES).values_list('pk', 'state', 'last_error'))}",
    )


def test_a_customers_contracts_signed_together_create_it_once_downstream(
    live_server, simulator, two_workers
):
    events_post_over_http(live_server.url, *(customer_event(n) for n in CUSTOMERS))
    settle(two_workers)
    contracts = {
        customer: [
            contract_event(
                f"K-{customer[2:]}-{n}", customer=customer, project_code=f"P-{customer[2:]}-{n}"
            )
            for n in range(CONTRACTS_EACH)
        ]
        for customer in CUSTOMERS
    }
    with ThreadPoolExecutor(max_workers=CONTRACTS_EACH + 1) as pool:
        for signed in contracts.values():
            # A customer's contracts at the same moment, each on its own request (so on its own
            # message, for its own worker process), and the first once more under a new event id.
            again = {**signed[0], "id": f"{signed[0]['id']}-again"}
            list(
                pool.map(
                    lambda event: events_post_over_http(live_server.url, event, system="clm"),
                    [*signed, again],
                )
            )
    settle(two_workers)

    failed = Transaction.objects.exclude(state=TransactionState.SUCCEEDED)
    assert not failed.exists(), list(failed.values_list("pk", "state", "last_error"))
    customers = erp_external_ids(simulator, "customer")
    assert {number: customers[number] for number in CUSTOMERS} == dict.fromkeys(CUSTOMERS, 1)
    projects = [
        event["data"]["project"]["code"] for signed in contracts.values() for event in signed
    ]
    jobs = erp_external_ids(simulator, "job")
    assert {code: jobs[code] for code in projects} == dict.fromkeys(projects, 1)
    psa = psa_codes(simulator)
    assert {code: psa[code] for code in projects} == dict.fromkeys(projects, 1)
