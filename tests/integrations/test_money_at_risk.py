"""Money at risk on every exception: each code has an estimator, and each that can hold money
counts it (the amounts here are written out, not computed by the code under test)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction

from canonical.choices import BillingModel
from controltower.operations.selectors.overview import overview_figures
from integrations.choices import ExceptionType, FlowKind
from integrations.errors import IntegrationError
from integrations.exception_types import EXCEPTION_KINDS, exception_kind
from integrations.models import ExceptionRecord
from integrations.services.exceptions import exception_raise
from integrations.services.money_at_risk import (
    ESTIMATORS,
    counted_by_rule,
    money_at_risk_estimate,
)
from tests.factories.canonical import (
    BillingMilestoneFactory,
    ContractFactory,
    ProjectFactory,
    RateCardFactory,
    RateCardLineFactory,
    ResourceFactory,
)
from tests.factories.operations import FlowTransactionFactory
from tests.support.inbound import contract_event, events_send

# Codes that cannot hold money: their note says why.
NO_MONEY_CODES = {
    ExceptionType.NON_OWNER_UPDATE,
    ExceptionType.UNHANDLED_EVENT_TYPE,
    ExceptionType.CUSTOMER_PARENT_CYCLE,
    ExceptionType.OTHER,
}

# Codes whose raising rule counts the money: the count is kept.
COUNTED_BY_RULE = {
    ExceptionType.CAP_EXCEEDED,
    ExceptionType.AMENDMENT_CONFLICT,
    ExceptionType.ASSIGNMENT_OUTSIDE_PROJECT,
    ExceptionType.RESOURCE_OVER_ALLOCATED,
    ExceptionType.RECONCILIATION_DRIFT,
    ExceptionType.INVOICE_REJECTED,
    ExceptionType.CONTRACT_NEARING_END,
    ExceptionType.INVOICE_TAX_CODE_MISSING,
    ExceptionType.INVOICE_PAYMENT_TERMS_MISSING,
    ExceptionType.CODE_NOT_ACCEPTED_BY_ERP,
    ExceptionType.EXPENSE_CATEGORY_NOT_ALLOWED,
    ExceptionType.EXPENSE_RECEIPT_MISSING,
    ExceptionType.EXPENSE_RATE_MISSING,
    ExceptionType.MISSING_COST_RATE,
    ExceptionType.RESOURCE_LACKS_SKILLS,
}


def contract_terms(**terms: Any) -> dict[str, Any]:
    return {
        "number": "K-9001",
        "customer": "C-9001",
        "legal_entity": "ZZ99",
        "currency": "EUR",
        "billing_model": "time_and_materials",
        "start_date": "2030-01-01",
        "end_date": "2030-12-31",
        "project": {"code": "P-9001", "name": "Delivery"},
        **terms,
    }


CAPPED = contract_terms(cap_amount="120000.00")
MILESTONES = contract_terms(
    billing_model="milestone",
    milestones=[
        {"code": "M1", "name": "Design", "amount": "25000"},
        {"code": "M2", "name": "Build", "amount": 40000.5},
    ],
)
RETAINER = contract_terms(billing_model="retainer", monthly_fee="5000", end_date="2030-06-30")
UNPRICED = contract_terms()


@pytest.fixture
def priced_project(db):
    """P-7001 under a contract whose rate card prices a Developer at 150 and an Analyst at 120;
    E-7001 is a Developer."""
    card = RateCardFactory(code="RC-7001")
    RateCardLineFactory(rate_card=card, role="Developer", rate=Decimal("150.00"))
    RateCardLineFactory(rate_card=card, role="Analyst", rate=Decimal("120.00"))
    contract = ContractFactory(number="K-7001", rate_card=card)
    ResourceFactory(employee_number="E-7001", role="Developer")
    ResourceFactory(employee_number="E-7002", role="Tester")
    return ProjectFactory(code="P-7001", contract=contract, end_date=None)


def time_data(project: str = "P-7001", resource: str = "E-7001", hours: float = 7.5) -> dict:
    return {
        "number": "T-7001",
        "project": project,
        "resource": resource,
        "work_date": "2030-03-04",
        "hours": hours,
        "billable": True,
    }


def assignment_data() -> dict:
    # Monday to Friday at 50 %: 20 h.
    return {
        "number": "A-7001",
        "project": "P-7001",
        "resource": "E-7001",
        "role": "Developer",
        "start_date": "2030-03-04",
        "end_date": "2030-03-08",
        "allocation_percent": 50,
    }


def raise_on(code: str, event_type: str, data: dict, **failure: Any) -> ExceptionRecord:
    tx = FlowTransactionFactory(
        kind=FlowKind.TIME_TO_BILLING, event_type=event_type, normalized={"data": data}
    )
    with transaction.atomic():
        return exception_raise(
            tx=tx, failure=IntegrationError.business(f"{code} here.", code=code, **failure)
        )


def held_contract(data: dict, event_type: str = "contract.signed") -> None:
    """A contract event that waits (blocked) with these terms."""
    FlowTransactionFactory(event_type=event_type, normalized={"type": event_type, "data": data})


def test_every_exception_code_has_an_estimator_and_words_for_its_money():
    missing = set(ExceptionType.values) - set(ESTIMATORS)
    assert not missing, (
        f"Add an estimator for {sorted(missing)} to integrations.services.money_at_risk.ESTIMATORS."
    )
    for code in ExceptionType.values:
        assert EXCEPTION_KINDS[code].money.strip()


@pytest.mark.django_db
@pytest.mark.parametrize("code", ExceptionType.values)
def test_every_code_estimates_with_a_note_even_on_a_transaction_that_carries_nothing(code):
    tx = FlowTransactionFactory(
        kind=FlowKind.MASTER_DATA_SYNC, event_type="customer.upserted", normalized={"data": {}}
    )
    estimate = money_at_risk_estimate(
        tx=tx, failure=IntegrationError.business("Nothing priced.", code=code)
    )
    assert estimate.amount == Decimal("0.00")
    assert estimate.note.strip()


# For each code that can hold money, one representative raise and the amount it holds.
# (setup, event type, payload, expected amount, expected currency)
REPRESENTATIVE: dict[str, tuple[str, str, dict, str, str]] = {
    ExceptionType.INVALID_LEGAL_ENTITY: ("", "contract.signed", CAPPED, "120000.00", "EUR"),
    ExceptionType.UNKNOWN_CUSTOMER: ("", "contract.signed", MILESTONES, "65000.50", "EUR"),
    ExceptionType.BILLING_TERMS_MISSING: ("", "contract.signed", RETAINER, "30000.00", "EUR"),
    ExceptionType.MISSING_RATE_CARD: ("", "contract.signed", CAPPED, "120000.00", "EUR"),
    ExceptionType.MAPPING_INCOMPLETE: ("", "contract.signed", MILESTONES, "65000.50", "EUR"),
    ExceptionType.ERP_NOT_ROUTED: ("", "contract.signed", CAPPED, "120000.00", "EUR"),
    ExceptionType.SYSTEM_NOT_CONFIGURED: ("", "contract.signed", RETAINER, "30000.00", "EUR"),
    ExceptionType.AUTHENTICATION_FAILED: ("", "contract.signed", CAPPED, "120000.00", "EUR"),
    ExceptionType.AMENDMENT_BEFORE_CONTRACT: (
        "",
        "contract.amended",
        MILESTONES,
        "65000.50",
        "EUR",
    ),
    ExceptionType.DOWNSTREAM_REJECTED: (
        "project",
        "project.propagate",
        {"project": "P-7101", "version": 2},
        "90000.00",
        "USD",
    ),
    ExceptionType.PROJECT_NOT_ACTIVE: (
        "project",
        "time_entry.approved",
        time_data(),
        "1125.00",
        "USD",
    ),
    ExceptionType.RESOURCE_NOT_ASSIGNED: (
        "project",
        "time_entry.approved",
        time_data(),
        "1125.00",
        "USD",
    ),
    ExceptionType.BILLING_HOLD: ("project", "time_entry.approved", time_data(), "1125.00", "USD"),
    ExceptionType.EDITED_REPLAY: ("project", "time_entry.approved", time_data(), "1125.00", "USD"),
    # The person is unknown: the contract's lowest rate (Analyst, 120).
    ExceptionType.UNKNOWN_RESOURCE: (
        "project",
        "time_entry.approved",
        time_data(resource="E-9999"),
        "900.00",
        "USD",
    ),
    # The project is unknown: the held contract that creates it prices a Developer at 180.
    ExceptionType.UNKNOWN_PROJECT: (
        "pending",
        "time_entry.approved",
        time_data(project="P-9001"),
        "1350.00",
        "EUR",
    ),
    # The milestone is not on the stored contract; a held amendment names it at 12,500.
    ExceptionType.UNKNOWN_MILESTONE: (
        "pending",
        "milestone.reached",
        {"contract": "K-7001", "code": "M3", "reached_on": "2030-03-04"},
        "12500.00",
        "USD",
    ),
    ExceptionType.RESOURCE_UNAVAILABLE: (
        "project",
        "assignment.upserted",
        assignment_data(),
        "3000.00",
        "USD",
    ),
}


def _set_up(kind: str) -> None:
    if kind in ("project", "pending"):
        card = RateCardFactory(code="RC-7001")
        RateCardLineFactory(rate_card=card, role="Developer", rate=Decimal("150.00"))
        RateCardLineFactory(rate_card=card, role="Analyst", rate=Decimal("120.00"))
        contract = ContractFactory(number="K-7001", rate_card=card)
        ResourceFactory(employee_number="E-7001", role="Developer")
        ProjectFactory(code="P-7001", contract=contract, end_date=None)
        capped = ContractFactory(number="K-7101", cap_amount=Decimal("90000.00"))
        ProjectFactory(code="P-7101", contract=capped)
    if kind == "pending":
        held_contract(
            contract_terms(
                project={"code": "P-9001", "name": "New"},
                rates=[
                    {"role": "Developer", "rate": "180"},
                    {"role": "Analyst", "rate": "95"},
                ],
            )
        )
        held_contract(
            contract_terms(
                number="K-7001",
                currency="USD",
                project={"code": "P-7001", "name": "Delivery"},
                effective_date="2030-03-01",
                milestones=[{"code": "M3", "name": "Hand-over", "amount": "12500"}],
            ),
            event_type="contract.amended",
        )


def test_every_code_that_can_hold_money_has_a_representative_raise():
    assert {code for code, estimator in ESTIMATORS.items() if estimator is counted_by_rule} == (
        COUNTED_BY_RULE
    )
    missing = set(ExceptionType.values) - set(REPRESENTATIVE) - COUNTED_BY_RULE - NO_MONEY_CODES
    assert not missing, (
        f"Give {sorted(missing)} a representative raise and its amount in REPRESENTATIVE "
        "(or list it in COUNTED_BY_RULE or NO_MONEY_CODES, as its estimator is)."
    )


@pytest.mark.django_db
@pytest.mark.parametrize("code", sorted(REPRESENTATIVE))
def test_a_representative_raise_holds_its_exact_money_with_a_note(code):
    setup, event_type, data, amount, currency = REPRESENTATIVE[code]
    _set_up(setup)
    exc = raise_on(code, event_type, data)
    assert (exc.money_at_risk, exc.currency) == (Decimal(amount), currency)
    assert exc.money_note.strip()


@pytest.mark.django_db
@pytest.mark.parametrize("code", sorted(COUNTED_BY_RULE))
def test_what_the_raising_rule_counted_is_kept_with_the_registry_s_words(code):
    exc = raise_on(
        code,
        "time_entry.approved",
        time_data(),
        money_at_risk=Decimal("1234.56"),
        currency="EUR",
    )
    assert (exc.money_at_risk, exc.currency) == (Decimal("1234.56"), "EUR")
    assert exc.money_note == exception_kind(code).money


@pytest.mark.django_db
@pytest.mark.parametrize("code", sorted(NO_MONEY_CODES))
def test_a_code_that_cannot_hold_money_says_why(code):
    exc = raise_on(code, "contract.signed", CAPPED)
    assert exc.money_at_risk == Decimal("0.00")
    assert exc.money_note == exception_kind(code).money


@pytest.mark.django_db
def test_a_contract_held_at_contract_to_project_is_worth_its_cap_and_says_so():
    exc = raise_on(ExceptionType.INVALID_LEGAL_ENTITY, "contract.signed", CAPPED)
    assert exc.money_note == "Contract K-9001's cap, 120,000.00 EUR."


@pytest.mark.django_db
def test_a_retainer_counts_its_monthly_fee_for_the_months_left_of_its_term():
    exc = raise_on(ExceptionType.BILLING_TERMS_MISSING, "contract.signed", RETAINER)
    assert exc.money_at_risk == Decimal("30000.00")
    assert exc.money_note == (
        "Contract K-9001's monthly fee of 5,000.00 EUR for 6 months left of its term "
        "(to 2030-06-30)."
    )


@pytest.mark.django_db
def test_a_contract_with_no_cap_milestones_or_fee_counts_none_and_says_why():
    exc = raise_on(ExceptionType.UNKNOWN_CUSTOMER, "contract.signed", UNPRICED)
    assert exc.money_at_risk == Decimal("0.00")
    assert exc.money_note.startswith("None counted: contract K-9001 has no cap")


@pytest.mark.django_db
def test_held_time_counts_its_hours_at_the_project_s_rate_for_the_role(priced_project):
    exc = raise_on(ExceptionType.PROJECT_NOT_ACTIVE, "time_entry.approved", time_data())
    assert exc.money_note == "7.5 h at 150.00 USD an hour, project P-7001's rate for a Developer."


@pytest.mark.django_db
def test_held_time_of_a_role_nothing_prices_counts_none(priced_project):
    exc = raise_on(
        ExceptionType.MISSING_RATE_CARD, "time_entry.approved", time_data(resource="E-7002")
    )
    assert exc.money_at_risk == Decimal("0.00")
    assert exc.money_note == "None: nothing prices the 7.5 h held yet (no rate for the role)."


@pytest.mark.django_db
def test_a_held_milestone_counts_its_amount(db):
    BillingMilestoneFactory(
        contract=ContractFactory(number="K-7201", billing_model=BillingModel.MILESTONE),
        code="M1",
        amount=Decimal("18000.00"),
    )
    exc = raise_on(
        ExceptionType.BILLING_HOLD,
        "milestone.reached",
        {"contract": "K-7201", "code": "M1", "reached_on": "2030-03-04"},
    )
    assert exc.money_at_risk == Decimal("18000.00")


@pytest.mark.django_db
def test_time_joining_an_open_exception_adds_its_value(priced_project):
    first = raise_on(ExceptionType.PROJECT_NOT_ACTIVE, "time_entry.approved", time_data())
    again = raise_on(
        ExceptionType.PROJECT_NOT_ACTIVE,
        "time_entry.approved",
        {**time_data(hours=2), "number": "T-7002"},
        waiting_on="project_active:P-7001",
    )
    joined = raise_on(
        ExceptionType.PROJECT_NOT_ACTIVE,
        "time_entry.approved",
        {**time_data(hours=4), "number": "T-7003"},
        waiting_on="project_active:P-7001",
    )
    assert again.pk == joined.pk != first.pk
    joined.refresh_from_db()
    # 2 h + 4 h at 150.
    assert (joined.money_at_risk, joined.occurrences) == (Decimal("900.00"), 2)


@pytest.mark.django_db
def test_a_held_transaction_retried_while_its_exception_is_open_is_counted_once(priced_project):
    tx = FlowTransactionFactory(
        kind=FlowKind.TIME_TO_BILLING,
        event_type="time_entry.approved",
        normalized={"data": time_data()},
    )
    failure = IntegrationError.business(
        "Closed.", code=ExceptionType.PROJECT_NOT_ACTIVE, waiting_on="project_active:P-7001"
    )
    with transaction.atomic():
        exc = exception_raise(tx=tx, failure=failure)
    tx.exception = exc
    tx.save(update_fields=["exception"])
    with transaction.atomic():
        again = exception_raise(tx=tx, failure=failure)
    assert (again.pk, again.occurrences, again.money_at_risk) == (exc.pk, 2, Decimal("1125.00"))


@pytest.mark.django_db
def test_the_overview_s_money_at_risk_includes_contract_and_master_data_exceptions(demo):
    before = overview_figures()["exceptions"]["by_type"]
    assert not [
        row for row in before if row["type"] in ("invalid_legal_entity", "unknown_customer")
    ]
    events_send(contract_event("K-9801", legal_entity="ZZ98"))
    events_send(contract_event("K-9802", customer="C-9898"))
    by_type = {row["type"]: row for row in overview_figures()["exceptions"]["by_type"]}
    assert by_type["invalid_legal_entity"]["money_at_risk"] == [
        {"currency": "USD", "amount": Decimal("250000.00")}
    ]
    assert by_type["unknown_customer"]["money_at_risk"] == [
        {"currency": "USD", "amount": Decimal("250000.00")}
    ]
    notes = set(
        ExceptionRecord.objects.filter(
            exception_type__in=("invalid_legal_entity", "unknown_customer")
        ).values_list("money_note", flat=True)
    )
    assert notes == {
        "Contract K-9801's cap, 250,000.00 USD.",
        "Contract K-9802's cap, 250,000.00 USD.",
    }
