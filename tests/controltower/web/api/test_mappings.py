"""A firm names its DocuSign custom fields its own way: the envelope is kept and held until
an admin maps them, tries the mapping on it, and publishes it; then the contract runs through
to the ERP and the PSA (simulated, over real HTTP)."""

from __future__ import annotations

import pytest
from django.test import Client

from canonical.models import Contract, Project
from controltower.operations.models import AuditEvent
from integrations.choices import ExceptionType, TransactionState
from integrations.models import FieldMapping, Transaction
from integrations.services.processing import transactions_process
from tests.support.inbound import signed_post
from tests.support.mappings import CUSTOM, firm_envelope, firm_mapping

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/systems/docusign/mappings/"


@pytest.fixture
def held(simulator) -> Transaction:
    """The firm's envelope, kept and held for its mapping."""
    response = signed_post(Client(), "docusign", firm_envelope())
    assert response.status_code == 202, response.content
    [row] = response.json()["results"]
    assert CUSTOM.format("Contract_Number") in row["unmapped"]
    transactions_process(ids=[row["transaction_id"]])
    tx = Transaction.objects.get(pk=row["transaction_id"])
    assert tx.state == TransactionState.BLOCKED
    assert tx.exception.exception_type == ExceptionType.MAPPING_INCOMPLETE
    return tx


def test_an_admin_maps_the_firms_custom_fields_and_the_held_contract_runs(
    held, user_with_role, api_client_for
):
    admin = user_with_role("admin")
    api = api_client_for(admin)
    [state] = api.get(URL).json()
    assert (state["record_type"], state["version"], state["draft"]) == ("contract", 0, None)

    tried = api.post(
        f"{URL}contract/preview/",
        {"document": firm_mapping(), "transaction_ids": [held.pk]},
        format="json",
    )
    assert tried.status_code == 200, tried.content
    [preview] = tried.json()
    assert preview["ok"] and preview["source"] == f"transaction #{held.pk}"
    data = preview["normalized"]["data"]
    assert (data["number"], data["customer"], data["cap_amount"]) == (
        "K-2026-0051",
        "C-1001",
        "180000.00",
    )
    assert data["billing_model"] == "fixed_fee"
    held.refresh_from_db()
    assert held.state == TransactionState.BLOCKED  # trying stores nothing

    saved = api.put(
        f"{URL}contract/draft/", {"document": firm_mapping(), "note": "Our template"}, format="json"
    )
    assert saved.status_code == 200, saved.content
    assert (saved.json()["version"], saved.json()["status"]) == (1, "draft")
    published = api.post(f"{URL}contract/publish/", {"reason": "New template"}, format="json")
    assert published.status_code == 200, published.content
    assert (published.json()["replaced"], published.json()["released"]) == (0, 1)

    transactions_process(ids=[held.pk])
    held.refresh_from_db()
    assert held.state == TransactionState.SUCCEEDED, held.last_error
    assert held.mapping_version == 1
    contract = Contract.objects.get(number="K-2026-0051")
    assert Project.objects.get(contract=contract).code == "P-1051"
    actions = list(
        AuditEvent.objects.filter(action__startswith="mapping.").values_list("action", flat=True)
    )
    assert sorted(actions) == ["mapping.draft_saved", "mapping.published"]


def test_a_mapping_that_cannot_be_used_is_refused_naming_its_place(
    simulator, api_client_for, user_with_role
):
    api = api_client_for(user_with_role("admin"))
    bad = {"fields": [{"field": "number", "source": "data.envelopeSummary.["}]}
    response = api.put(f"{URL}contract/draft/", {"document": bad}, format="json")
    assert response.status_code == 400
    assert any(key.startswith("document.fields[0]") for key in response.json()["errors"])
    assert not FieldMapping.objects.exists()


@pytest.mark.parametrize("role", ["viewer", "operator", "approver"])
def test_only_an_admin_changes_a_mapping(simulator, api_client_for, user_with_role, role):
    api = api_client_for(user_with_role(role))
    assert api.get(URL).status_code == 200
    body = {"document": firm_mapping()}
    assert api.put(f"{URL}contract/draft/", body, format="json").status_code == 403
    assert api.post(f"{URL}contract/publish/", {}, format="json").status_code == 403
    assert api.post(f"{URL}contract/preview/", body, format="json").status_code == 403


def test_a_record_type_the_system_does_not_send_is_not_found(
    simulator, api_client_for, user_with_role
):
    api = api_client_for(user_with_role("admin"))
    assert api.get(f"{URL}time_entry/").status_code == 404
    assert api.get("/api/v1/systems/erp/mappings/").json() == []
