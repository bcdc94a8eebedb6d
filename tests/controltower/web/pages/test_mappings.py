"""The field mapping pages: everyone who reads the systems sees the mapping in force; an admin
tries a draft on a pasted sample and on received payloads, saves it and publishes it."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from integrations.choices import MappingStatus, TransactionState
from integrations.models import FieldMapping, Transaction
from integrations.services.processing import transactions_process
from tests.support.inbound import signed_post
from tests.support.mappings import firm_envelope, firm_mapping
from tests.support.pages import signed_in

pytestmark = pytest.mark.django_db

PAGE = "/systems/docusign/mappings/contract/"


@pytest.fixture
def held(demo) -> Transaction:
    response = signed_post(Client(), "docusign", firm_envelope())
    [tx_id] = response.json()["transaction_ids"]
    transactions_process(ids=[tx_id])
    return Transaction.objects.get(pk=tx_id)


def test_the_systems_page_links_to_the_mappings_of_a_vendor_system(held, user_with_role):
    page = signed_in(user_with_role("viewer")).get("/systems/")
    assert 'href="/systems/docusign/mappings/"' in page.text
    listing = signed_in(user_with_role("viewer")).get("/systems/docusign/mappings/")
    assert listing.status_code == 200
    assert (
        "The default mapping" in listing.text and f"exception #{held.exception.pk}" in listing.text
    )


def test_an_admin_tries_a_draft_on_a_held_payload_and_on_a_sample_without_storing(
    held, user_with_role
):
    admin = signed_in(user_with_role("admin"))
    page = admin.get(PAGE)
    assert page.status_code == 200 and "Work is held for this mapping." in page.text
    tried = admin.post(
        PAGE,
        {
            "action": "try",
            "document": json.dumps(firm_mapping()),
            "transactions": [held.pk],
            "sample": json.dumps(firm_envelope()),
        },
    )
    assert tried.status_code == 200
    previews = tried.context["previews"]
    assert [p.source for p in previews] == ["sample", f"transaction #{held.pk}"]
    assert all(p.ok for p in previews)
    assert "K-2026-0051" in tried.text
    assert not FieldMapping.objects.exists()


def test_the_admin_publishes_and_the_held_work_runs_again(held, user_with_role):
    admin = signed_in(user_with_role("admin"))
    response = admin.post(
        PAGE,
        {"action": "publish", "document": json.dumps(firm_mapping()), "note": "Our template"},
        follow=True,
    )
    assert "Published version 1" in response.text and "1 held exceptions run again" in response.text
    mapping = FieldMapping.objects.get()
    assert (mapping.status, mapping.note) == (MappingStatus.PUBLISHED, "Our template")
    held.refresh_from_db()
    assert held.state != TransactionState.BLOCKED


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "Not JSON"),
        (json.dumps({"fields": [{"field": "no_such_field", "source": "a"}]}), "no_such_field"),
    ],
)
def test_a_document_that_cannot_be_used_is_refused_beside_the_editor(
    demo, user_with_role, text, message
):
    response = signed_in(user_with_role("admin")).post(PAGE, {"action": "save", "document": text})
    assert response.status_code == 400
    assert message in str(response.context["form"].errors["document"])
    assert not FieldMapping.objects.exists()


@pytest.mark.parametrize("role", ["viewer", "operator", "approver"])
def test_others_read_the_mapping_and_may_not_change_it(demo, user_with_role, role):
    client = signed_in(user_with_role(role))
    page = client.get(PAGE)
    assert page.status_code == 200 and "Only an admin can change a mapping." in page.text
    assert "Contract_Number" in page.text  # the mapping in force
    body = {"action": "save", "document": json.dumps(firm_mapping())}
    assert client.post(PAGE, body).status_code == 403


def test_a_record_type_the_system_does_not_send_is_not_found(demo, user_with_role):
    client = signed_in(user_with_role("admin"))
    assert client.get("/systems/docusign/mappings/time_entry/").status_code == 404
