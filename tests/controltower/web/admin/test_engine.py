from __future__ import annotations

import pytest

from controltower.operations.models import AuditEvent
from integrations.choices import TransactionState
from integrations.models import ConnectedSystem, Flow, Transaction
from integrations.services.processing import transactions_process
from tests.support.inbound import customer_event, signed_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, demo):
    client.login(username="admin", password="admin")
    return client


def test_the_transaction_page_shows_its_state_payload_and_attempts(admin_client):
    ids = signed_post(admin_client, "crm", customer_event("C-6001", legal_entity="XX01")).json()[
        "transaction_ids"
    ]
    transactions_process(ids=ids)
    page = admin_client.get(f"/admin/integrations/transaction/{ids[0]}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "XX01" in html and "Legal entity" in html and "blocked" in html.lower()
    assert (
        admin_client.get("/admin/integrations/transaction/?state__exact=blocked").status_code == 200
    )


def test_the_admin_retry_action_uses_the_audited_service(admin_client):
    ids = signed_post(admin_client, "crm", customer_event("C-6002", legal_entity="XX01")).json()[
        "transaction_ids"
    ]
    transactions_process(ids=ids)
    response = admin_client.post(
        "/admin/integrations/transaction/",
        {"action": "retry", "_selected_action": ids},
        follow=True,
    )
    assert response.status_code == 200
    assert Transaction.objects.get(pk=ids[0]).state == TransactionState.RECEIVED
    assert AuditEvent.objects.filter(action="transaction.bulk_retry", actor_name="admin").exists()


def test_the_admin_pause_action_pauses_the_flow_and_is_audited(admin_client):
    flow = Flow.objects.get(kind="master_data_sync")
    admin_client.post(
        "/admin/integrations/flow/", {"action": "pause", "_selected_action": [flow.pk]}
    )
    flow.refresh_from_db()
    assert flow.paused is True
    assert AuditEvent.objects.get(action="flow.pause").actor_name == "admin"


def poller_form(system: ConnectedSystem, record_type: str) -> dict[str, str]:
    return {
        "system": str(system.pk),
        "record_type": record_type,
        "interval_seconds": "300",
        "overlap_seconds": "300",
        "page_size": "100",
    }


def test_an_admin_adds_a_poller_the_tower_can_read_and_the_addition_is_audited(admin_client):
    crm = ConnectedSystem.objects.get(slug="crm")
    added = admin_client.post("/admin/integrations/poller/add/", poller_form(crm, "customer"))
    assert added.status_code == 302
    assert crm.pollers.get().record_type == "customer"
    assert AuditEvent.objects.filter(action="poller.add").exists()


def test_a_poller_for_records_the_system_does_not_offer_is_refused(admin_client):
    psa = ConnectedSystem.objects.get(slug="psa")
    refused = admin_client.post("/admin/integrations/poller/add/", poller_form(psa, "worker"))
    assert refused.status_code == 200 and b"cannot poll worker records" in refused.content
    assert not psa.pollers.filter(record_type="worker").exists()


def test_a_workers_poller_is_taken_from_bamboohr_and_refused_from_a_canonical_hris(
    admin_client,
):
    bamboohr, hris = (
        ConnectedSystem.objects.get(slug="bamboohr"),
        ConnectedSystem.objects.get(slug="hris"),
    )
    bamboohr.pollers.all().delete()
    added = admin_client.post("/admin/integrations/poller/add/", poller_form(bamboohr, "worker"))
    assert added.status_code == 302 and bamboohr.pollers.get().record_type == "worker"
    refused = admin_client.post("/admin/integrations/poller/add/", poller_form(hris, "worker"))
    assert refused.status_code == 200 and b"that speaks canonical" in refused.content
    assert not hris.pollers.exists()


def test_an_admin_routes_a_legal_entity_in_the_admin_and_the_held_work_runs_again(admin_client):
    from canonical.models import LegalEntity
    from integrations.choices import ExceptionType, SystemKind
    from integrations.models import ConnectedSystem, ErpRoute
    from tests.support.inbound import contract_event

    erp2 = ConnectedSystem.objects.create(
        slug="erp2", name="ERP Europe", kind=SystemKind.ERP, base_url="http://127.0.0.1:9/erp2"
    )
    event = contract_event("K-7201", customer="C-1002", legal_entity="GB01", rate_card="RC-GB-STD")
    ids = signed_post(admin_client, "clm", event).json()["transaction_ids"]
    transactions_process(ids=ids)
    held = Transaction.objects.get(pk=ids[0])
    assert held.exception.exception_type == ExceptionType.ERP_NOT_ROUTED
    form = admin_client.get("/admin/integrations/erproute/add/")
    offered = form.context["adminform"].form.fields["system"].queryset
    assert sorted(offered.values_list("slug", flat=True)) == ["erp", "erp2"]  # ERPs only
    response = admin_client.post(
        "/admin/integrations/erproute/add/",
        {"legal_entity": LegalEntity.objects.get(code="GB01").pk, "system": erp2.pk},
        follow=True,
    )
    assert response.status_code == 200
    assert ErpRoute.objects.get().system == erp2
    assert AuditEvent.objects.filter(action="erproute.add", actor_name="admin").exists()
    held.refresh_from_db()
    assert held.exception.status == "resolved" and held.state != TransactionState.BLOCKED
