"""Master-data sync of resources, rate cards and project changes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from canonical.models import Project, RateCard, Resource
from controltower.operations.models import BusinessException
from integrations.choices import Outcome, TransactionState
from tests.support.inbound import event, events_run

pytestmark = pytest.mark.django_db


def resource(number="E-0100", **overrides):
    return {
        "employee_number": number,
        "name": "Mary Jackson",
        "role": "Consultant",
        "legal_entity": "US01",
        "email": "mj@example.com",
        "cost_rate": "95.00",
        **overrides,
    }


def test_a_resource_event_creates_the_consultant(demo):
    [tx] = events_run(event("resource.upserted", resource()), system="hris")
    assert tx.state == TransactionState.SUCCEEDED
    consultant = Resource.objects.get(employee_number="E-0100")
    assert (consultant.role, consultant.cost_rate, consultant.legal_entity.code) == (
        "Consultant",
        Decimal("95.00"),
        "US01",
    )


def test_a_resource_in_an_unknown_legal_entity_waits_for_it(demo):
    [tx] = events_run(event("resource.upserted", resource(legal_entity="NL01")), system="hris")
    assert tx.state == TransactionState.BLOCKED and tx.exception.waiting_on == "legal_entity:NL01"


def test_a_rate_card_event_makes_its_lines_exactly_the_ones_sent(demo):
    lines = [{"role": "Partner", "rate": "500"}, {"role": "Architect", "rate": 275.5}]
    [tx] = events_run(
        event(
            "rate_card.upserted",
            {"code": "RC-US-STD", "name": "US standard 2027", "currency": "USD", "lines": lines},
            version=2,
        ),
        system="erp",
    )
    assert tx.state == TransactionState.SUCCEEDED, tx.last_error
    card = RateCard.objects.get(code="RC-US-STD")
    assert dict(card.lines.values_list("role", "rate")) == {
        "Partner": Decimal("500.00"),
        "Architect": Decimal("275.50"),
    }


def test_a_missing_rate_card_line_arriving_resolves_what_waited_on_it(demo):
    from integrations.choices import ExceptionStatus
    from integrations.services.exceptions import waiting_key

    exc = BusinessException.objects.create(
        exception_type="missing_rate_card",
        message="No Architect rate",
        fingerprint="x",
        waiting_on=waiting_key("rate_card", "RC-US-STD", "Architect"),
    )
    events_run(
        event(
            "rate_card.upserted",
            {
                "code": "RC-US-STD",
                "name": "US",
                "currency": "USD",
                "lines": [{"role": "Architect", "rate": 280}],
            },
            version=2,
        ),
        system="erp",
    )
    exc.refresh_from_db()
    assert exc.status == ExceptionStatus.RESOLVED


def test_a_project_change_from_the_psa_is_applied_and_an_older_one_is_stale(demo):
    from canonical.models import Customer

    customer = Customer.objects.get(number="C-1001")
    Project.objects.create(
        code="P-2001",
        name="Rollout",
        customer=customer,
        legal_entity=customer.legal_entity,
        status="active",
        start_date="2026-11-01",
    )
    [closed] = events_run(
        event("project.upserted", {"code": "P-2001", "status": "closed"}, version=7), system="psa"
    )
    assert closed.outcome == Outcome.APPLIED
    project = Project.objects.get(code="P-2001")
    assert project.status == "closed" and project.version == 2
    [older] = events_run(
        event("project.upserted", {"code": "P-2001", "status": "active"}, version=6), system="psa"
    )
    assert older.outcome == Outcome.STALE
    assert Project.objects.get(code="P-2001").status == "closed"


def test_a_change_to_an_unknown_project_waits_for_the_project(demo):
    [tx] = events_run(
        event("project.upserted", {"code": "P-404", "status": "closed"}), system="psa"
    )
    assert tx.state == TransactionState.BLOCKED and tx.exception.waiting_on == "project:P-404"


def test_an_update_from_a_system_that_does_not_own_the_data_is_not_applied(demo):
    from tests.support.inbound import customer_event

    [tx] = events_run(customer_event("C-1001", name="Renamed by the ERP", version=9), system="erp")
    assert tx.state == TransactionState.BLOCKED
    assert tx.exception.exception_type == "non_owner_update"
    assert tx.exception.details["owner"] == "crm" and tx.exception.details["sender"] == "erp"
    from canonical.models import Customer

    assert Customer.objects.get(number="C-1001").name == "Acme Corporation"
    [owned] = events_run(customer_event("C-1001", name="Acme Corp.", version=9), system="crm")
    assert owned.state == TransactionState.SUCCEEDED
