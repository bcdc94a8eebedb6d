"""The exception page says how its money at risk was counted, to those who may see pricing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction

from integrations.choices import ExceptionType, FlowKind
from integrations.errors import IntegrationError
from integrations.services.exceptions import exception_raise
from tests.factories.operations import FlowTransactionFactory
from tests.support.pages import signed_in


@pytest.fixture
def held_contract(db):
    tx = FlowTransactionFactory(
        kind=FlowKind.CONTRACT_TO_PROJECT,
        event_type="contract.signed",
        normalized={
            "data": {
                "number": "K-9101",
                "currency": "EUR",
                "start_date": "2030-01-01",
                "cap_amount": "75000",
            }
        },
    )
    with transaction.atomic():
        exc = exception_raise(
            tx=tx,
            failure=IntegrationError.business(
                "Legal entity ZZ91 is unknown.",
                code=ExceptionType.INVALID_LEGAL_ENTITY,
                waiting_on="legal_entity:ZZ91",
            ),
        )
    assert exc.money_at_risk == Decimal("75000.00")
    return exc


def test_an_approver_reads_how_the_money_at_risk_was_counted(held_contract, user_with_role):
    page = signed_in(user_with_role("approver")).get(f"/exceptions/{held_contract.pk}/")
    assert page.status_code == 200
    assert "How it is counted" in page.text
    assert "Contract K-9101&#x27;s cap, 75,000.00 EUR." in page.text


def test_a_viewer_sees_the_note_masked(held_contract, user_with_role):
    page = signed_in(user_with_role("viewer")).get(f"/exceptions/{held_contract.pk}/")
    assert page.status_code == 200
    assert "Contract K-9101&#x27;s cap" not in page.text
