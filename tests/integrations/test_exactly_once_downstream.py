"""No record is created twice in another system, whatever the timing.

Two real worker processes (two pool processes each) run a customer's contracts signed
together, some delivered twice under new event ids, against the simulated ERP and PSA
over HTTP; the simulator answers slowly enough that the look-up and the create of two
workers overlap. Each customer, ERP job and PSA project must exist exactly once there.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.db.models import Count

from controltower.operations.demo import demo_load
from integrations.choices import FINAL_STATES, TransactionState
from integrations.models import Attempt, ConnectedSystem, Transaction
from tests.support.inbound import contract_event, customer_event, events_post_over_http
from tests.support.simulator import simulator_client
from tests.support.worker import (
    SupervisedProcess,
    WorkerProcess,
    children,
    supervised_beat,
    supervised_worker,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)

CUSTOMERS = [f"C-91{n:02d}" for n in range(10)]
CONTRACTS_EACH = 4


@pytest.fixture
def simulator(live_server) -> Iterator[httpx.Client]:
    demo_load()
    base = f"{live_server.url}/simulator"
    ConnectedSystem.objects.filter(slug="erp").update(base_url=f"{base}/erp")
    ConnectedSystem.objects.filter(slug="psa").update(base_url=f"{base}/psa")
    with simulator_client(base, timeout=30) as http:
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


def settle(workers: list, timeout: float = 150) -> None:
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


LEASE = {"CT_PROCESSING_LEASE_SECONDS": "4", "CT_LEASE_RENEW_SECONDS": "1"}


@pytest.fixture
def chaos(runtime_env) -> Iterator[tuple[list[SupervisedProcess], SupervisedProcess]]:
    """Two workers and beat under their supervisors, as ``make run`` starts them, with a
    lease of 4 s (renewed every second while work runs) and the runtime's compressed times."""
    env = {**runtime_env, **LEASE}
    workers = [supervised_worker(env, name="alpha"), supervised_worker(env, name="beta")]
    beat = supervised_beat(env)
    workers[0].start()
    workers[1].start(purge=False)
    beat.start(purge=False)
    try:
        yield workers, beat
    finally:
        for process in (*workers, beat):
            process.stop()


def pool_processes(workers: list[SupervisedProcess]) -> list[int]:
    return [
        pid for worker in workers if (main := worker.child()) is not None for pid in children(main)
    ]


def test_killed_pool_processes_and_outlived_leases_lose_nothing_and_create_nothing_twice(
    live_server, simulator, chaos
):
    """Pool processes SIGKILLed at random, busy and idle, while each customer's contracts run
    in one chunk that takes longer than the lease: the chunk is not run twice while its worker
    lives, a killed worker's work is taken back and done, and nothing is created twice."""
    workers, _ = chaos
    simulator.put("/erp/_faults", json={"latency_ms": 300})
    simulator.put("/psa/_faults", json={"latency_ms": 300})
    customers = CUSTOMERS[:6]
    events_post_over_http(live_server.url, *(customer_event(n) for n in customers))
    settle(workers)
    contracts = {
        customer: [
            contract_event(
                f"K-{customer[2:]}-{n}", customer=customer, project_code=f"P-{customer[2:]}-{n}"
            )
            for n in range(CONTRACTS_EACH)
        ]
        for customer in customers
    }
    stop = threading.Event()
    killed: list[int] = []

    def kill_at_random() -> None:
        rng = random.Random(7)
        while not stop.wait(2.0) and len(killed) < 5:
            pool = pool_processes(workers)
            if pool:
                victim = rng.choice(pool)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(victim, signal.SIGKILL)
                    killed.append(victim)

    killer = threading.Thread(target=kill_at_random, daemon=True)
    killer.start()
    with ThreadPoolExecutor(max_workers=2) as pool:
        for signed in contracts.values():
            # The customer's contracts in one chunk (longer than the lease at this latency),
            # and the first once more, on its own, under a new event id.
            again = {**signed[0], "id": f"{signed[0]['id']}-again"}
            list(
                pool.map(
                    lambda events: events_post_over_http(live_server.url, *events, system="clm"),
                    [signed, [again]],
                )
            )
    settle(workers, timeout=240)
    stop.set()
    killer.join()

    assert len(killed) >= 3
    failed = Transaction.objects.exclude(state=TransactionState.SUCCEEDED)
    assert not failed.exists(), list(failed.values_list("pk", "state", "last_error"))
    twice = (
        Attempt.objects.filter(outcome="succeeded")
        .values("transaction_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    assert not twice.exists(), list(twice)
    erp_customers = erp_external_ids(simulator, "customer")
    assert {n: erp_customers[n] for n in customers} == dict.fromkeys(customers, 1)
    projects = [e["data"]["project"]["code"] for signed in contracts.values() for e in signed]
    jobs = erp_external_ids(simulator, "job")
    assert {code: jobs[code] for code in projects} == dict.fromkeys(projects, 1)
    psa = psa_codes(simulator)
    assert {code: psa[code] for code in projects} == dict.fromkeys(projects, 1)


def test_a_chunk_that_outlives_its_lease_is_not_taken_from_its_living_worker(
    live_server, simulator, runtime_env
):
    """One customer's contracts in one chunk that takes longer than the lease: the worker
    renews the lease while it works, so beat's sweep never takes the chunk back and no
    other process runs it beside the first."""
    env = {**runtime_env, **LEASE}
    worker, beat = supervised_worker(env, name="slow"), supervised_beat(env)
    worker.start()
    beat.start(purge=False)
    try:
        simulator.put("/erp/_faults", json={"latency_ms": 300})
        simulator.put("/psa/_faults", json={"latency_ms": 300})
        events_post_over_http(live_server.url, customer_event("C-9201"))
        settle([worker])
        started = time.monotonic()
        events_post_over_http(
            live_server.url,
            *(
                contract_event(f"K-9201-{n}", customer="C-9201", project_code=f"P-9201-{n}")
                for n in range(8)
            ),
            system="clm",
        )
        settle([worker])
        took = time.monotonic() - started
    finally:
        worker.stop()
        beat.stop()
    assert took > float(LEASE["CT_PROCESSING_LEASE_SECONDS"])  # it did outlive the lease
    assert not Transaction.objects.exclude(state=TransactionState.SUCCEEDED).exists()
    # The sweep found nothing to take back, so no item of the chunk was skipped as taken over.
    assert "no longer ours" not in worker.log.read_text()
