"""The ERP failing while a real worker posts invoices: retried, honoured, never duplicated."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from canonical.choices import InvoiceStatus
from canonical.models import Invoice
from controltower.operations.demo import demo_load
from controltower.operations.services.approvals import invoice_approve
from integrations.choices import FINAL_STATES, TransactionState
from integrations.models import CircuitBreaker, ConnectedSystem, Flow, Transaction
from integrations.services.processing import transactions_sweep
from tests.support.inbound import contract_event, event, events_send
from tests.support.simulator import simulator_client
from tests.support.worker import WorkerProcess, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def erp(live_server, celery_worker, user_with_role):
    demo_load()
    base = f"{live_server.url}/simulator"
    ConnectedSystem.objects.filter(slug="erp").update(base_url=f"{base}/erp")
    ConnectedSystem.objects.filter(slug="psa").update(base_url=f"{base}/psa")
    # Quick retries, so that the test waits seconds, not minutes; a retry budget
    # (about a second apart, up to 200 tries) that outlasts a 30 s outage by far.
    Flow.objects.update(backoff_base_seconds=0.2, backoff_cap_seconds=2.0, max_attempts=200)
    with simulator_client(f"{base}/erp", timeout=10) as http:
        http.post("/_reset")
        yield http


def settle(worker, timeout: float = 60) -> None:
    wait_for(
        lambda: not Transaction.objects.exclude(
            state__in=[*FINAL_STATES, TransactionState.BLOCKED]
        ).exists(),
        timeout=timeout,
        what="the worker to settle",
        on_timeout=worker.tail,
    )


@pytest.fixture
def impatient_worker(worker_env) -> Iterator[WorkerProcess]:
    """A worker whose breakers open after three failed calls and probe a second later."""
    worker = WorkerProcess(
        {**worker_env, "CT_BREAKER_FAILURES": "3", "CT_BREAKER_PROBE_SECONDS": "1"},
        name="impatient",
    )
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


def test_an_erp_outage_longer_than_the_retry_budget_waits_behind_the_breaker(
    live_server, impatient_worker, user_with_role
):
    """An outage outlasting the ERP's retry budget fills no dead-letter queue: after three
    failed calls the breaker opens and the postings wait for the ERP, their budget paused;
    probes fail while it is down; the first probe that gets through closes the breaker and
    the postings go out in the order they were approved, once each."""
    demo_load()
    base = f"{live_server.url}/simulator"
    ConnectedSystem.objects.filter(slug="erp").update(base_url=f"{base}/erp")
    ConnectedSystem.objects.filter(slug="psa").update(base_url=f"{base}/psa")
    Flow.objects.update(backoff_base_seconds=0.2, backoff_cap_seconds=1.0)
    erp = simulator_client(f"{base}/erp", timeout=10)
    erp.post("/_reset")
    invoices = _three_invoices_awaiting_approval(impatient_worker)
    # The ERP's budget is 3 s: without the breaker the postings would die in this outage.
    ConnectedSystem.objects.filter(slug="erp").update(retry_budget_hours=3 / 3600)
    erp.put("/_faults", json={"outage": True})
    approver = user_with_role("approver")
    for invoice in invoices:
        invoice_approve(invoice_id=invoice.pk, actor=approver)
    postings = Transaction.objects.filter(event_type="invoice.approved")
    breaker = CircuitBreaker.objects.filter(system__slug="erp")

    def sweep_until(predicate, what: str, timeout: float) -> None:
        """Beat's sweep, run here as often as beat would in a compressed minute."""
        wait_for(
            lambda: (transactions_sweep(), predicate())[1],
            timeout=timeout,
            interval=0.5,
            what=what,
            on_timeout=impatient_worker.tail,
        )

    sweep_until(
        lambda: breaker.filter(state="open").exists()
        and postings.filter(waiting_for__slug="erp").count() == 3,
        "the breaker to open and the postings to wait for the ERP",
        timeout=30,
    )
    outage_began = time.monotonic()
    # Down for longer than the budget: the probes fail, nothing dies, nothing posts.
    sweep_until(lambda: time.monotonic() - outage_began > 8, "the outage", timeout=20)
    assert breaker.get().probe_interval_seconds > 1  # probes failed and backed off
    assert not postings.filter(state=TransactionState.DEAD).exists()
    assert not Invoice.objects.filter(status=InvoiceStatus.POSTED).exists()

    erp.put("/_faults", json={"outage": False})
    sweep_until(
        lambda: Invoice.objects.filter(status=InvoiceStatus.POSTED).count() == 3,
        "the invoices to be posted once the ERP answers",
        timeout=60,
    )
    assert breaker.get().state == "closed"
    assert not postings.exclude(state=TransactionState.SUCCEEDED).exists()
    items = erp.get("/services/rest/record/v1/invoice").json()["items"]
    # Once each, and in the order they were approved (released oldest first).
    approved_order = list(postings.order_by("pk").values_list("business_key", flat=True))
    assert [
        item["externalId"] for item in sorted(items, key=lambda i: int(i["id"]))
    ] == approved_order
    erp.close()


def _three_invoices_awaiting_approval(worker: WorkerProcess) -> list[Invoice]:
    for n in range(3):
        events_send(
            contract_event(f"K-80{n}", project_code=f"P-80{n}"), system="clm", process=False
        )
    settle(worker)
    events_send(
        *[
            event(
                "assignment.upserted",
                {
                    "number": f"A-80{n}",
                    "project": f"P-80{n}",
                    "resource": "E-0002",
                    "role": "Manager",
                    "start_date": "2026-11-02",
                    "allocation_percent": 30,
                },
            )
            for n in range(3)
        ],
        system="psa",
        process=False,
    )
    settle(worker)
    events_send(
        *[
            event(
                "time_entry.approved",
                {
                    "number": f"T-80{n}",
                    "project": f"P-80{n}",
                    "resource": "E-0002",
                    "work_date": "2026-11-04",
                    "hours": 5,
                    "billable": True,
                },
            )
            for n in range(3)
        ],
        system="psa",
        process=False,
    )
    settle(worker)
    invoices = list(Invoice.objects.order_by("number"))
    assert [i.status for i in invoices] == [InvoiceStatus.AWAITING_APPROVAL] * 3
    return invoices


def test_a_429_retry_after_is_honoured_before_the_next_call(erp, celery_worker):
    erp.put("/_faults", json={"throttle": True, "retry_after_seconds": 3})
    events_send(contract_event("K-8100"), system="clm", process=False)
    wait_for(
        lambda: Transaction.objects.filter(state=TransactionState.RETRY_SCHEDULED).exists(),
        timeout=30,
        what="the first throttled attempt",
        on_timeout=celery_worker.tail,
    )
    tx = Transaction.objects.get()
    first = tx.attempts.get()
    assert first.outbound_status == 429
    assert tx.next_attempt_at >= first.started_at + timedelta(seconds=3)
    erp.put("/_faults", json={"throttle": False})
    settle(celery_worker)
    tx.refresh_from_db()
    assert tx.state == TransactionState.SUCCEEDED
    second = tx.attempts.order_by("number").last()
    assert (second.started_at - first.started_at).total_seconds() >= 3


def test_contract_to_cash_runs_through_every_flow_on_the_worker(erp, celery_worker, user_with_role):
    """One contract's whole story, each flow run by the real worker against the simulator."""
    from canonical.models import Contract, Resource
    from controltower.operations.models import BusinessException

    events_send(
        event(
            "resource.upserted",
            {
                "employee_number": "E-0900",
                "name": "Dorothy Vaughan",
                "role": "Manager",
                "legal_entity": "US01",
            },
        ),
        system="hris",
        process=False,
    )
    events_send(contract_event("K-8200", project_code="P-8200"), system="clm", process=False)
    settle(celery_worker)
    assert Resource.objects.filter(employee_number="E-0900").exists()
    events_send(
        event(
            "assignment.upserted",
            {
                "number": "A-8200",
                "project": "P-8200",
                "resource": "E-0900",
                "role": "Manager",
                "start_date": "2026-11-02",
                "allocation_percent": 60,
            },
        ),
        system="psa",
        process=False,
    )
    settle(celery_worker)
    events_send(
        event(
            "time_entry.approved",
            {
                "number": "T-8200",
                "project": "P-8200",
                "resource": "E-0900",
                "work_date": "2026-11-05",
                "hours": 6,
                "billable": True,
            },
        ),
        event(
            "milestone.reached", {"contract": "K-8200", "code": "M1", "reached_on": "2026-11-28"}
        ),
        system="psa",
        process=False,
    )
    amended = contract_event("K-8200", project_code="P-8200")["data"]
    amended = {k: v for k, v in amended.items() if k not in ("project", "signed_at")} | {
        "end_date": "2027-09-30",
        "effective_date": "2027-01-01",
    }
    events_send(event("contract.amended", amended, version=2), system="clm", process=False)
    settle(celery_worker)
    invoice = Invoice.objects.get(number="INV-P-8200-202611")
    assert invoice.amount == 6 * 300 + 20000
    invoice_approve(invoice_id=invoice.pk, actor=user_with_role("approver"))
    wait_for(
        lambda: Invoice.objects.filter(pk=invoice.pk, status=InvoiceStatus.POSTED).exists(),
        timeout=30,
        what="the invoice to be posted",
        on_timeout=celery_worker.tail,
    )
    from controltower.operations.services.actions import reconciliation_start

    run = reconciliation_start(actor=None)
    settle(celery_worker)
    assert Transaction.objects.get(pk=run.pk).state == TransactionState.SUCCEEDED
    assert not Transaction.objects.exclude(state=TransactionState.SUCCEEDED).exists()
    assert not BusinessException.objects.exists()
    assert Contract.objects.get(number="K-8200").version == 2
    flows = set(Transaction.objects.values_list("flow__kind", flat=True))
    assert flows == {
        "master_data_sync",
        "contract_to_project",
        "project_to_staffing",
        "time_to_billing",
        "amendment_propagation",
        "reconciliation",
    }
    job = erp.get("/services/rest/record/v1/job").json()["items"]
    assert len(job) == 1 and job[0]["endDate"] == "2027-09-30"
    assert len(erp.get("/services/rest/record/v1/invoice").json()["items"]) == 1
