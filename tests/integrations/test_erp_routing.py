"""Several ERP instances: each legal entity's books in its own ERP, over real HTTP.

The simulator serves two NetSuite-style ERPs (``erp`` and ``erp2``), each with its own
records and its own OAuth 2.0 client; US01 is routed to the first, GB01 to the second.
"""

from __future__ import annotations

import time

import httpx
import pytest
from django.test import Client

from canonical.choices import InvoiceStatus
from canonical.errors import ConflictError
from canonical.models import Contract, Invoice, Project
from controltower.operations.demo import demo_load
from controltower.operations.services.actions import record_repush
from integrations.choices import AuthKind, ExceptionType, SystemKind, TransactionState
from integrations.models import ConnectedSystem, OutboundAuth, SyncState, Transaction
from integrations.services.billing import invoices_poll
from integrations.services.processing import transactions_process
from integrations.services.routing import erp_route_set
from tests.support.inbound import contract_event, event, events_run
from tests.support.simulator import erp_client, simulator_client

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def two_erps(live_server):
    """The demo's ERP keeps US01's books; a second instance, erp2, is connected beside it."""
    demo_load()
    base = f"{live_server.url}/simulator"
    ConnectedSystem.objects.filter(slug="erp").update(base_url=f"{base}/erp")
    ConnectedSystem.objects.filter(slug="psa").update(base_url=f"{base}/psa")
    erp2 = ConnectedSystem.objects.create(
        slug="erp2", name="ERP Europe", kind=SystemKind.ERP, base_url=f"{base}/erp2"
    )
    client_id, secret = erp_client("erp2")
    OutboundAuth.objects.create(
        system=erp2,
        kind=AuthKind.OAUTH2_CLIENT_CREDENTIALS,
        username=client_id,
        secret=secret,
        token_url="/services/rest/auth/oauth2/v1/token",
    )
    with simulator_client(base, timeout=10) as http:
        for system in ("erp", "erp2", "psa"):
            http.post(f"/{system}/_reset")
        yield http


@pytest.fixture
def routed(two_erps):
    erp_route_set(legal_entity_code="US01", system_slug="erp")
    erp_route_set(legal_entity_code="GB01", system_slug="erp2")
    return two_erps


def erp_records(http: httpx.Client, erp: str, record: str) -> list[dict]:
    return http.get(f"/{erp}/services/rest/record/v1/{record}").json()["items"]


def uk_contract(number: str) -> dict:
    signed = contract_event(number, customer="C-1002", legal_entity="GB01", rate_card="RC-GB-STD")
    signed["data"]["currency"] = "GBP"
    return signed


def test_a_us01_contract_lands_in_one_erp_and_a_gb01_contract_in_the_other(routed):
    us, uk = events_run(contract_event("K-7001"), uk_contract("K-7002"), system="clm")
    assert (us.state, uk.state) == (TransactionState.SUCCEEDED,) * 2, (
        us.last_error,
        uk.last_error,
    )
    assert [j["externalId"] for j in erp_records(routed, "erp", "job")] == ["P-K-7001"]
    assert [j["externalId"] for j in erp_records(routed, "erp2", "job")] == ["P-K-7002"]
    assert [c["externalId"] for c in erp_records(routed, "erp", "customer")] == ["C-1001"]
    assert [c["externalId"] for c in erp_records(routed, "erp2", "customer")] == ["C-1002"]
    held = {
        (state.system.slug, Project.objects.get(pk=state.object_id).code)
        for state in SyncState.objects.filter(content_type__model="project")
    }
    assert {("erp", "P-K-7001"), ("erp2", "P-K-7002")} <= held
    assert ("erp", "P-K-7002") not in held and ("erp2", "P-K-7001") not in held


def test_with_two_erps_an_unrouted_legal_entity_waits_until_it_is_routed(two_erps):
    [signed] = events_run(uk_contract("K-7003"), system="clm")
    assert signed.state == TransactionState.BLOCKED
    assert signed.exception.exception_type == ExceptionType.ERP_NOT_ROUTED
    assert signed.exception.waiting_on == "erp_route:GB01"
    assert "GB01" in signed.exception.message
    assert erp_records(two_erps, "erp", "job") == erp_records(two_erps, "erp2", "job") == []

    erp_route_set(legal_entity_code="GB01", system_slug="erp2")  # the held contract re-runs
    transactions_process(ids=[signed.pk])
    signed.refresh_from_db()
    assert signed.state == TransactionState.SUCCEEDED, signed.last_error
    assert [j["externalId"] for j in erp_records(two_erps, "erp2", "job")] == ["P-K-7003"]
    assert erp_records(two_erps, "erp", "job") == []


def uk_invoice_approved(http: httpx.Client, approver) -> Invoice:
    events_run(uk_contract("K-7004"), system="clm")
    staffing = event(
        "assignment.upserted",
        {
            "number": "A-UK-1",
            "project": "P-K-7004",
            "resource": "E-0003",
            "role": "Consultant",
            "start_date": "2026-11-02",
            "allocation_percent": 50,
        },
    )
    worked = event(
        "time_entry.approved",
        {
            "number": "T-UK-1",
            "project": "P-K-7004",
            "resource": "E-0003",
            "work_date": "2026-11-03",
            "hours": 8,
            "billable": True,
        },
    )
    for tx in events_run(staffing, worked, system="psa"):
        assert tx.state == TransactionState.SUCCEEDED, tx.last_error
    invoice = Invoice.objects.get(number="INV-P-K-7004-202611")
    assert approver.post(f"/api/v1/invoices/{invoice.pk}/approve/", {}).status_code == 200
    return invoice


def test_an_invoice_is_posted_to_the_erp_that_owns_its_legal_entity(
    routed, user_with_role, api_client_for
):
    invoice = uk_invoice_approved(routed, api_client_for(user_with_role("approver")))
    posting = Transaction.objects.get(event_type="invoice.approved", business_key=invoice.number)
    transactions_process(ids=[posting.pk])
    posting.refresh_from_db()
    assert posting.state == TransactionState.SUCCEEDED, posting.last_error
    assert [i["externalId"] for i in erp_records(routed, "erp2", "invoice")] == [invoice.number]
    assert erp_records(routed, "erp", "invoice") == []
    # Its cost forecast went to the same instance.
    assert [f["externalId"] for f in erp_records(routed, "erp2", "projectCostForecast")] == [
        "A-UK-1"
    ]


def test_an_invoice_addressed_to_an_erp_that_does_not_own_its_legal_entity_is_refused(
    routed, user_with_role, api_client_for
):
    invoice = uk_invoice_approved(routed, api_client_for(user_with_role("approver")))
    posting = Transaction.objects.get(event_type="invoice.approved", business_key=invoice.number)
    Transaction.objects.filter(pk=posting.pk).update(
        target_system=ConnectedSystem.objects.get(slug="erp")
    )
    transactions_process(ids=[posting.pk])
    posting.refresh_from_db()
    assert posting.state == TransactionState.BLOCKED
    assert posting.exception.exception_type == ExceptionType.ERP_NOT_ROUTED
    assert "does not own legal entity GB01" in posting.exception.message
    assert erp_records(routed, "erp", "invoice") == erp_records(routed, "erp2", "invoice") == []


def test_a_record_is_not_re_pushed_to_an_erp_that_does_not_own_its_legal_entity(
    routed, user_with_role, api_client_for
):
    events_run(uk_contract("K-7005"), system="clm")
    contract = Contract.objects.get(number="K-7005")
    operator = user_with_role("operator")
    with pytest.raises(ConflictError, match="does not own legal entity GB01"):
        record_repush(
            record=contract, system=ConnectedSystem.objects.get(slug="erp"), actor=operator
        )
    answer = api_client_for(operator).post(
        f"/api/v1/contracts/{contract.pk}/repush/", {"system": "erp"}, format="json"
    )
    assert answer.status_code == 409
    assert "erp does not own GB01." in answer.json()["errors"]["system"]
    assert not Transaction.objects.filter(event_type="record.repush").exists()


def test_the_record_page_and_the_lineage_show_the_erp_that_owns_the_legal_entity(
    routed, user_with_role, api_client_for
):
    events_run(contract_event("K-7006"), uk_contract("K-7007"), system="clm")
    uk = Contract.objects.get(number="K-7007")
    viewer = user_with_role("viewer")
    page = Client()
    page.force_login(viewer)
    text = page.get(f"/records/contract/{uk.pk}/").text
    assert "ERP: ERP Europe (routes GB01)" in text
    project = Project.objects.get(code="P-K-7007")
    answer = page.get(f"/records/project/{project.pk}/")
    assert "ERP: ERP Europe (routes GB01)" in answer.text
    # The project is re-pushed only to the ERP that owns it (and the PSA).
    assert [s.slug for s in answer.context["view"].repush_systems] == ["erp2", "psa"]
    lineage = api_client_for(viewer).get(f"/api/v1/contracts/{uk.pk}/lineage/").json()
    assert lineage["erp_route"] == {
        "legal_entity": "GB01",
        "system": "erp2",
        "routed": True,
        "text": "ERP: ERP Europe (routes GB01)",
    }
    assert sorted(s["system"] for s in lineage["records"]["projects"][0]["systems"]) == [
        "erp2",
        "psa",
    ]


def test_reconciliation_and_payment_follow_each_invoice_in_its_own_erp(
    routed, user_with_role, api_client_for
):
    from controltower.operations.models import BusinessException

    invoice = uk_invoice_approved(routed, api_client_for(user_with_role("approver")))
    posting = Transaction.objects.get(event_type="invoice.approved", business_key=invoice.number)
    transactions_process(ids=[posting.pk])
    operator = api_client_for(user_with_role("operator"))

    def reconcile() -> Transaction:
        response = operator.post("/api/v1/reconciliation/runs/", {"reason": "month end"})
        transactions_process(ids=[response.json()["id"]])
        return Transaction.objects.get(pk=response.json()["id"])

    assert reconcile().state == TransactionState.SUCCEEDED
    assert not BusinessException.objects.filter(exception_type="reconciliation_drift").exists()

    # A copy keyed by hand in erp2, on the tower's project there, is drift in erp2.
    [copy] = erp_records(routed, "erp2", "invoice")
    routed.post(
        "/erp2/services/rest/record/v1/invoice",
        json={k: copy[k] for k in ("externalId", "entity", "job", "subsidiary", "item")},
    )
    reconcile()
    [drift] = BusinessException.objects.filter(exception_type="reconciliation_drift")
    assert drift.message == f"The ERP erp2 holds invoice {invoice.number} 2 times."

    # Paid in erp2: the payment poll asks erp2, not the first ERP.
    routed.put("/erp2/_faults", json={"pay_after_seconds": 1})
    time.sleep(1.1)
    assert invoices_poll() == 1
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID


def test_a_legal_entity_moved_to_another_erp_waits_there_for_its_project(routed, operator):
    from integrations.services.exceptions import exceptions_recheck

    events_run(uk_contract("K-7008"), system="clm")
    erp_route_set(legal_entity_code="GB01", system_slug="erp")  # GB01's books move
    staffing = event(
        "assignment.upserted",
        {
            "number": "A-UK-8",
            "project": "P-K-7008",
            "resource": "E-0003",
            "role": "Consultant",
            "start_date": "2026-11-02",
            "allocation_percent": 50,
        },
    )
    [forecast] = events_run(staffing, system="psa")
    assert forecast.state == TransactionState.BLOCKED
    assert forecast.exception.waiting_on == "erp_project:P-K-7008"
    # The copy in erp2, which no longer owns GB01, does not end the wait.
    assert exceptions_recheck() == 0
    tx = record_repush(
        record=Project.objects.get(code="P-K-7008"),
        system=ConnectedSystem.objects.get(slug="erp"),
        actor=operator,
    )
    transactions_process(ids=[tx.pk])
    transactions_process(ids=[forecast.pk])
    forecast.refresh_from_db()
    assert forecast.state == TransactionState.SUCCEEDED, forecast.last_error
    assert [j["externalId"] for j in erp_records(routed, "erp", "job")] == ["P-K-7008"]
    assert [f["externalId"] for f in erp_records(routed, "erp", "projectCostForecast")] == [
        "A-UK-8"
    ]
