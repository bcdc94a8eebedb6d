"""A Salesforce org with its own custom fields, end to end: a REST Opportunity shaped as the
org sends it, read with the org's published mapping, becomes a signed contract whose project
is created in the ERP and the PSA (simulated, over real HTTP, with their credentials)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from canonical.models import Contract, Project
from integrations.choices import TransactionState
from integrations.models import Transaction
from integrations.services.processing import transactions_process
from tests.integrations.adapters.support import document, publish
from tests.support.inbound import signed_post

pytestmark = pytest.mark.django_db(transaction=True)

# This org's names for the fields the default mapping calls Contract_Number__c and friends.
ORG_FIELDS = {
    "Contract_Number__c": "SOW_Ref__c",
    "Customer_Number__c": "Client_No__c",
    "Legal_Entity__c": "Booking_Entity__c",
    "Billing_Model__c": "Engagement_Type__c",
    "Start_Date__c": "Kickoff__c",
    "End_Date__c": "Wrap_Up__c",
    "Rate_Card__c": "Price_Book__c",
    "Cap_Amount__c": "NTE__c",
    "Project_Code__c": "Engagement_Code__c",
}
ORG_MAPPING = {
    "when": [{"source": "StageName", "in": ["Closed Won", "Won - Signed"]}],
    "fields": [
        {"field": "number", "source": "SOW_Ref__c", "required": True},
        {"field": "customer", "source": "Client_No__c"},
        {"field": "legal_entity", "source": "Booking_Entity__c"},
        {"field": "currency", "source": "CurrencyIsoCode"},
        {
            "field": "billing_model",
            "source": "Engagement_Type__c",
            "transform": "billing_model",
            "values": {"Managed Service": "managed_services"},
        },
        {"field": "start_date", "source": "Kickoff__c"},
        {"field": "end_date", "source": "Wrap_Up__c"},
        {"field": "rate_card", "source": "Price_Book__c"},
        {"field": "cap_amount", "source": "NTE__c", "transform": "money"},
        {"field": "monthly_fee", "source": "Run_Rate__c", "transform": "money"},
        {"field": "project.code", "source": "Engagement_Code__c"},
        {"field": "project.name", "source": "Name"},
    ],
}


def org_opportunity() -> dict:
    record = document("salesforce", "rest_closed_won.json")
    for default, own in ORG_FIELDS.items():
        record[own] = record.pop(default)
    record.update(StageName="Won - Signed", Engagement_Type__c="Managed Service", Run_Rate__c=12500)
    return record


def test_an_orgs_own_opportunity_fields_become_a_project_in_the_erp_and_the_psa(simulator):
    publish("salesforce", "contract", ORG_MAPPING)
    response = signed_post(Client(), "salesforce", org_opportunity())
    assert response.status_code == 202, response.content
    [row] = response.json()["results"]
    assert "ignored" not in row and "unmapped" not in row
    transactions_process(ids=[row["transaction_id"]])
    tx = Transaction.objects.get(pk=row["transaction_id"])
    assert tx.state == TransactionState.SUCCEEDED, tx.last_error
    assert tx.mapping_version == 1
    contract = Contract.objects.get(number="K-2026-0043")
    assert (contract.billing_model, contract.monthly_fee) == (
        "managed_services",
        Decimal("12500.00"),
    )
    project = Project.objects.get(contract=contract)
    assert project.code == "P-2001"
    jobs = simulator.get("/erp/services/rest/record/v1/job").json()["items"]
    assert [job["externalId"] for job in jobs] == ["P-2001"]
    body = simulator.get("/psa/api/v1/projects").json()
    projects = body.get("results", body) if isinstance(body, dict) else body
    assert [p["code"] for p in projects] == ["P-2001"]


def test_the_same_opportunity_under_the_default_mapping_is_kept_as_ignored_by_its_rule(demo):
    response = signed_post(Client(), "salesforce", org_opportunity())
    [row] = response.json()["results"]
    # "Won - Signed" is not the default's Closed Won: kept as ignored, with the rule.
    assert 'StageName is "Won - Signed"' in row["ignored"]
    assert Transaction.objects.get(pk=row["transaction_id"]).state == TransactionState.IGNORED
