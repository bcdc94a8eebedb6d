"""Expenses rebilled at cost plus the contract's markup (the README's "Billing rules",
"Expenses"), and the lines the contract does not let the group bill."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from canonical.choices import BillingModel, InvoiceStatus, ProjectStatus
from canonical.errors import RuleViolation
from canonical.models import Contract, ExpenseLine, ExpenseReport, Invoice, InvoiceLine, Project
from canonical.services.billing import invoice_candidate_rebuild, monthly_fee_bill
from canonical.services.contracts import ContractTerms, contract_amend, contract_sign
from canonical.services.expenses import ExpenseLineData, expense_report_approve
from tests.factories.canonical import (
    CustomerFactory,
    LegalEntityFactory,
    ProjectFactory,
    ResourceFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def contract():
    """K-EXP: a German company's fixed-fee contract in EUR that rebills travel and lodging
    at 10 % markup, with its project P-K-EXP."""
    entity = LegalEntityFactory(code="DE01")
    CustomerFactory(number="C-2001", legal_entity=entity, currency="EUR")
    return contract_sign(
        terms=terms(expense_categories=("Travel", "lodging")),
        version=1,
        source_system="clm",
        correlation_id="K-EXP",
    ).contract


def terms(**extra) -> ContractTerms:
    values = {
        "number": "K-EXP",
        "customer": "C-2001",
        "legal_entity": "DE01",
        "currency": "EUR",
        "billing_model": BillingModel.FIXED_FEE,
        "start_date": date(2026, 11, 1),
        "expense_markup_percent": Decimal("10"),
        "project_code": "P-K-EXP",
        "project_name": "Delivery for K-EXP",
        **extra,
    }
    return ContractTerms(**values)


@pytest.fixture
def ada(contract):
    return ResourceFactory(
        employee_number="E-7001", name="Ada Byron", legal_entity=contract.legal_entity
    )


def line(category: str, amount: str, **extra) -> ExpenseLineData:
    values = {"incurred_on": date(2026, 11, 10), "billable": True, **extra}
    return ExpenseLineData(category=category, amount=Decimal(amount), **values)


def approve(*lines: ExpenseLineData, number: str = "EXP-1", version: int = 1):
    return expense_report_approve(
        number=number,
        project_code="P-K-EXP",
        employee_number="E-7001",
        currency="EUR",
        approved_at=None,
        lines=lines,
        version=version,
        source_system="psa",
    )


def refused(*lines: ExpenseLineData) -> RuleViolation:
    with pytest.raises(RuleViolation) as caught:
        approve(*lines)
    assert not ExpenseReport.objects.exists()
    assert not InvoiceLine.objects.exists()
    return caught.value


def november() -> Invoice:
    return Invoice.objects.get(number="INV-P-K-EXP-202611")


def test_an_expense_with_markup_in_a_second_currency_is_billed_in_the_contracts_currency(ada):
    approve(
        # 186.35 GBP x 1.1625 = 216.631875 EUR; x 1.10 = 238.2950625, rounded once: 238.30.
        # (Rounding the converted amount first, 216.63 x 1.10 = 238.293, would bill 238.29.)
        line(
            "lodging",
            "186.35",
            currency="GBP",
            exchange_rate=Decimal("1.1625"),
            receipt_reference="R-HOTEL-1",
            description="Hotel, London, 2 nights",
        ),
        # 42.00 EUR x 1.10 = 46.20 EUR; under the 75.00 threshold, no receipt needed.
        line("travel", "42.00", description="Taxi to the client", incurred_on=date(2026, 11, 11)),
    )
    invoice = november()
    assert [(item.description, item.amount) for item in invoice.lines.order_by("id")] == [
        (
            "Expense 2026-11-10 lodging: Hotel, London, 2 nights "
            "(EXP-1 line 1; 186.35 GBP at 1.1625; +10 % markup)",
            Decimal("238.30"),
        ),
        (
            "Expense 2026-11-11 travel: Taxi to the client (EXP-1 line 2; +10 % markup)",
            Decimal("46.20"),
        ),
    ]
    assert (invoice.currency, invoice.amount, invoice.status) == (
        "EUR",
        Decimal("284.50"),
        InvoiceStatus.AWAITING_APPROVAL,
    )
    hotel = ExpenseLine.objects.get(report__number="EXP-1", line_number=1)
    assert (hotel.amount, hotel.currency, hotel.exchange_rate, hotel.billed_amount) == (
        Decimal("186.35"),
        "GBP",
        Decimal("1.1625"),
        Decimal("238.30"),
    )


def test_a_non_billable_line_is_recorded_and_not_billed(ada):
    approve(
        line("meals", "30.00", billable=False, description="Team dinner"),
        line("travel", "20.00"),
    )
    dinner = ExpenseLine.objects.get(report__number="EXP-1", line_number=1)
    assert (dinner.category, dinner.amount, dinner.billable, dinner.billed_amount) == (
        "meals",
        Decimal("30.00"),
        False,
        None,
    )
    assert not dinner.invoice_lines.exists()
    assert november().amount == Decimal("22.00")


def test_a_category_the_contract_does_not_rebill_is_refused_with_its_billed_amount_at_risk(ada):
    violation = refused(line("travel", "20.00"), line("Meals", "60.00"))
    assert violation.code == "expense_category_not_allowed"
    assert violation.message == (
        "Expense EXP-1 line 2 (meals): contract K-EXP rebills travel, lodging only."
    )
    assert (violation.money_at_risk, violation.currency) == (Decimal("66.00"), "EUR")
    assert violation.waiting_on == "contract_terms:K-EXP"


def test_an_amendment_that_rebills_the_category_lets_the_report_through(contract, ada):
    refused(line("meals", "60.00"))
    contract_amend(
        terms=terms(expense_categories=("travel", "lodging", "meals")),
        effective_date=date(2026, 11, 1),
        version=2,
        source_system="clm",
    )
    assert Contract.objects.get(number="K-EXP").expense_categories == ["travel", "lodging", "meals"]
    approve(line("meals", "60.00"))
    assert november().amount == Decimal("66.00")
    assert contract.versions.get(version=2).terms["expense_categories"] == [
        "travel",
        "lodging",
        "meals",
    ]


def test_a_contract_that_names_no_categories_rebills_no_expense(contract, ada):
    Contract.objects.filter(pk=contract.pk).update(expense_categories=[])
    violation = refused(line("travel", "20.00"))
    assert violation.message == "Expense EXP-1 line 1 (travel): contract K-EXP rebills no expenses."
    assert violation.money_at_risk == Decimal("22.00")


def test_a_line_over_the_receipt_threshold_without_a_receipt_is_refused(ada):
    violation = refused(line("travel", "75.00"), line("lodging", "75.01", receipt_reference=" "))
    assert violation.code == "expense_receipt_missing"
    assert violation.message == (
        "Expense EXP-1 line 2 (lodging) of 75.01 EUR has no receipt; lines above 75.00 EUR "
        "need one."
    )
    # 75.01 x 1.10 = 82.511, rounded half-up: 82.51.
    assert (violation.money_at_risk, violation.currency) == (Decimal("82.51"), "EUR")


def test_the_receipt_threshold_compares_the_amount_converted_to_the_contracts_currency(ada):
    # 70.00 GBP x 1.20 = 84.00 EUR, over 75.00 EUR; at risk 84.00 x 1.10 = 92.40 EUR.
    violation = refused(
        line("travel", "70.00", currency="GBP", exchange_rate=Decimal("1.2")),
    )
    assert violation.code == "expense_receipt_missing"
    assert violation.money_at_risk == Decimal("92.40")


def test_a_line_in_another_currency_without_a_rate_is_refused_with_its_amount_in_that_currency(
    ada,
):
    violation = refused(line("travel", "100.00", currency="GBP", receipt_reference="R-9"))
    assert violation.code == "expense_rate_missing"
    assert violation.message == (
        "Expense EXP-1 line 1 (travel) is in GBP, the contract bills in EUR, and the line "
        "carries no exchange rate."
    )
    assert (violation.money_at_risk, violation.currency) == (Decimal("110.00"), "GBP")


def test_an_expense_on_a_project_that_is_not_active_is_refused(ada):
    Project.objects.filter(code="P-K-EXP").update(
        status=ProjectStatus.CLOSED, closed_on=date(2026, 11, 5)
    )
    violation = refused(line("travel", "40.00"))
    assert violation.code == "project_not_active"
    assert violation.message == (
        "Expense EXP-1 line 1 (travel) was incurred on 2026-11-10, when project P-K-EXP is "
        "closed (closed on 2026-11-05); it cannot be billed."
    )
    assert (violation.money_at_risk, violation.waiting_on) == (
        Decimal("44.00"),
        "project_active:P-K-EXP",
    )


def test_an_expense_on_an_unknown_project_is_refused(ada):
    with pytest.raises(RuleViolation) as caught:
        expense_report_approve(
            number="EXP-9",
            project_code="P-NOPE",
            employee_number="E-7001",
            currency="EUR",
            approved_at=None,
            lines=[line("travel", "40.00")],
            version=1,
            source_system="psa",
        )
    assert (caught.value.code, caught.value.waiting_on) == ("unknown_project", "project:P-NOPE")


def test_the_same_report_sent_twice_bills_once(ada):
    first = approve(line("travel", "20.00"), line("lodging", "50.00"))
    again = approve(line("travel", "20.00"), line("lodging", "50.00"))
    assert (first.outcome, again.outcome) == ("applied", "unchanged")
    assert november().lines.count() == 2
    assert november().amount == Decimal("77.00")


def test_a_new_version_replaces_its_lines_on_the_open_candidate_without_counting_them_twice(ada):
    approve(line("travel", "20.00"), line("lodging", "50.00"))
    # Version 2: the taxi cost 30.00, and the hotel line was withdrawn.
    result = approve(line("travel", "30.00"), version=2)
    assert result.outcome == "applied"
    assert [item.amount for item in november().lines.all()] == [Decimal("33.00")]
    assert november().amount == Decimal("33.00")
    assert ExpenseLine.objects.filter(report__number="EXP-1").count() == 1


def test_a_line_already_on_an_approved_invoice_stays_as_billed(ada):
    approve(line("travel", "20.00"))
    Invoice.objects.filter(pk=november().pk).update(status=InvoiceStatus.APPROVED)
    approve(line("travel", "30.00"), line("lodging", "10.00"), version=2)
    approved = Invoice.objects.get(number="INV-P-K-EXP-202611")
    assert [item.amount for item in approved.lines.all()] == [Decimal("22.00")]
    supplementary = Invoice.objects.get(number="INV-P-K-EXP-202611-2")
    assert [item.amount for item in supplementary.lines.all()] == [Decimal("11.00")]


def test_a_line_whose_invoice_was_rejected_goes_on_the_rebuilt_candidate(ada):
    approve(line("travel", "20.00"), line("meals", "30.00", billable=False))
    Invoice.objects.filter(pk=november().pk).update(status=InvoiceStatus.REJECTED)
    rebuilt = invoice_candidate_rebuild(
        project=Project.objects.get(code="P-K-EXP"), period_start=date(2026, 11, 1)
    )
    assert rebuilt is not None and rebuilt.number == "INV-P-K-EXP-202611-2"
    assert [(item.expense_line.line_number, item.amount) for item in rebuilt.lines.all()] == [
        (1, Decimal("22.00"))
    ]
    assert rebuilt.amount == Decimal("22.00")
    assert (
        invoice_candidate_rebuild(
            project=Project.objects.get(code="P-K-EXP"), period_start=date(2026, 11, 1)
        )
        is None
    )


def test_an_expense_line_is_not_taken_for_the_months_fee(contract, ada):
    Contract.objects.filter(pk=contract.pk).update(
        billing_model=BillingModel.MANAGED_SERVICES, monthly_fee=Decimal("2500.00")
    )
    approve(line("travel", "20.00"))
    invoice = monthly_fee_bill(contract=Contract.objects.get(pk=contract.pk), day=date(2026, 11, 1))
    assert invoice is not None and invoice.amount == Decimal("2522.00")


def test_an_expense_on_internal_work_without_a_contract_is_not_rebillable(contract, ada):
    ProjectFactory(
        code="P-INT",
        contract=None,
        customer=contract.customer,
        legal_entity=contract.legal_entity,
    )
    with pytest.raises(RuleViolation) as caught:
        expense_report_approve(
            number="EXP-INT",
            project_code="P-INT",
            employee_number="E-7001",
            currency="EUR",
            approved_at=None,
            lines=[line("travel", "40.00")],
            version=1,
            source_system="psa",
        )
    assert caught.value.message == (
        "Expense EXP-INT line 1 (travel): project P-INT has no contract and rebills no expenses."
    )
    # No contract, no markup: 40.00 EUR in the customer's currency.
    assert (caught.value.money_at_risk, caught.value.currency) == (Decimal("40.00"), "EUR")
