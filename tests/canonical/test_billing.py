"""Each billing model, worked through with the money it bills (the README's "Billing rules")."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from canonical.choices import BillingModel, InvoiceStatus, TimeEntryStatus
from canonical.errors import RuleViolation
from canonical.models import Contract, Invoice, InvoiceLine, TimeEntry
from canonical.services.billing import (
    milestone_reach,
    monthly_fee_bill,
    monthly_fees_bill,
    time_entry_approve,
)
from canonical.services.contracts import ContractTerms, contract_amend
from tests.factories.canonical import (
    AssignmentFactory,
    ResourceFactory,
)
from tests.support.contracts import sign

pytestmark = pytest.mark.django_db

_numbers = iter(range(1, 10_000))


def staff(contract: Contract, name: str, role: str, **extra):
    resource = ResourceFactory(name=name, role=role, legal_entity=contract.legal_entity)
    AssignmentFactory(
        project=contract.projects.get(),
        resource=resource,
        role=role,
        start_date=date(2026, 11, 1),
        **extra,
    )
    return resource


def work(contract: Contract, resource, day: date, hours: str, number: str | None = None):
    return time_entry_approve(
        number=number or f"T-{next(_numbers)}",
        project_code=contract.projects.get().code,
        employee_number=resource.employee_number,
        work_date=day,
        hours=Decimal(hours),
        billable=True,
        approved_at=None,
        version=1,
        source_system="psa",
    )


def invoice_of(contract: Contract, month: str) -> Invoice:
    return Invoice.objects.get(number=f"INV-P-{contract.number}-{month}")


def lines_of(invoice: Invoice) -> list[tuple[str, Decimal, Decimal, Decimal]]:
    return [
        (line.description, line.quantity, line.rate, line.amount)
        for line in invoice.lines.order_by("id")
    ]


class TestTimeAndMaterials:
    def test_it_bills_each_hour_at_its_rate_and_honours_the_cap_with_the_remainder_shown(
        self, firm
    ) -> None:
        contract = sign(
            "K-TM",
            BillingModel.TIME_AND_MATERIALS,
            rate_card="RC-US",
            cap_amount=Decimal("5000.00"),
        )
        # Ada's assignment has its own rate (180/h), over the rate card's Architect 200/h.
        ada = staff(contract, "Ada Byron", "Architect", bill_rate=Decimal("180.00"))
        bob = staff(contract, "Bob Stone", "Consultant")

        work(contract, ada, date(2026, 11, 3), "8")
        work(contract, bob, date(2026, 11, 4), "7.5")
        invoice = invoice_of(contract, "202611")
        assert lines_of(invoice) == [
            ("2026-11-03 Ada Byron (Architect)", Decimal("8"), Decimal("180"), Decimal("1440")),
            ("2026-11-04 Bob Stone (Consultant)", Decimal("7.5"), Decimal("150"), Decimal("1125")),
        ]
        assert invoice.amount == Decimal("2565.00")
        assert contract.cap_remaining == Decimal("2435.00")

        work(contract, ada, date(2026, 11, 5), "8")
        assert contract.cap_remaining == Decimal("995.00")
        with pytest.raises(RuleViolation) as refused:
            work(contract, bob, date(2026, 11, 6), "7", number="T-OVER")
        assert refused.value.code == "cap_exceeded"
        assert refused.value.money_at_risk == Decimal("1050.00")
        assert refused.value.message == (
            "Contract K-TM's cap of 5,000.00 USD would be exceeded: 4,005.00 USD is billed "
            "and this entry adds 1,050.00 USD."
        )
        assert not TimeEntry.objects.filter(number="T-OVER").exists()
        assert invoice_of(contract, "202611").amount == Decimal("4005.00")
        assert contract.cap_remaining == Decimal("995.00")

    def test_it_rounds_each_line_half_up_to_the_cent(self, firm) -> None:
        contract = sign("K-RND", BillingModel.TIME_AND_MATERIALS, rate_card="RC-US")
        cy = staff(contract, "Cy Young", "Consultant", bill_rate=Decimal("90.10"))

        work(contract, cy, date(2026, 11, 3), "0.25")  # 22.525

        assert invoice_of(contract, "202611").amount == Decimal("22.53")

    def test_an_entry_corrected_to_non_billable_leaves_the_open_candidate(self, firm) -> None:
        contract = sign("K-NB", BillingModel.TIME_AND_MATERIALS, rate_card="RC-US")
        bob = staff(contract, "Bob Stone", "Consultant")
        work(contract, bob, date(2026, 11, 3), "8", number="T-NB-1")
        work(contract, bob, date(2026, 11, 4), "2")
        assert invoice_of(contract, "202611").amount == Decimal("1500.00")

        time_entry_approve(
            number="T-NB-1",
            project_code="P-K-NB",
            employee_number=bob.employee_number,
            work_date=date(2026, 11, 3),
            hours=Decimal("8"),
            billable=False,
            approved_at=None,
            version=2,
            source_system="psa",
        )

        invoice = invoice_of(contract, "202611")
        assert (invoice.amount, invoice.lines.count()) == (Decimal("300.00"), 1)
        assert TimeEntry.objects.get(number="T-NB-1").invoice is None


class TestFixedFee:
    def test_time_is_kept_but_not_billed_and_each_milestone_bills_its_amount(self, firm) -> None:
        contract = sign(
            "K-FF",
            BillingModel.FIXED_FEE,
            milestones=(
                {"code": "M1", "name": "Design signed off", "amount": "12000.00"},
                {"code": "M2", "name": "Go-live", "amount": "18000.50"},
            ),
        )
        # No rate card and no rates: a fixed fee prices no hour.
        ada = staff(contract, "Ada Byron", "Architect")

        result = work(contract, ada, date(2026, 11, 3), "8", number="T-FF-1")

        assert result.invoice is None
        entry = TimeEntry.objects.get(number="T-FF-1")
        assert (entry.status, entry.hours, entry.invoice) == (
            TimeEntryStatus.APPROVED,
            Decimal("8.00"),
            None,
        )
        assert not Invoice.objects.exists() and not InvoiceLine.objects.exists()

        november = milestone_reach(
            contract_number="K-FF", code="M1", reached_on=date(2026, 11, 20), source_system="clm"
        )
        assert november.number == "INV-P-K-FF-202611"
        assert lines_of(november) == [
            ("Milestone M1: Design signed off", Decimal("1"), Decimal("12000"), Decimal("12000"))
        ]
        assert Invoice.objects.get(pk=november.pk).amount == Decimal("12000.00")

        work(contract, ada, date(2026, 11, 24), "6")  # still no hour on the invoice
        assert Invoice.objects.get(pk=november.pk).amount == Decimal("12000.00")

        december = milestone_reach(
            contract_number="K-FF", code="M2", reached_on=date(2026, 12, 10), source_system="clm"
        )
        assert Invoice.objects.get(pk=december.pk).amount == Decimal("18000.50")
        assert sum(e.hours for e in TimeEntry.objects.filter(invoice__isnull=True)) == Decimal(
            "14.00"
        )

    def test_a_milestone_contract_bills_the_same_way(self, firm) -> None:
        contract = sign(
            "K-MS",
            BillingModel.MILESTONE,
            milestones=({"code": "M1", "name": "Phase one", "amount": "7500.00"},),
        )
        bob = staff(contract, "Bob Stone", "Consultant")
        assert work(contract, bob, date(2026, 11, 3), "8").invoice is None

        invoice = milestone_reach(
            contract_number="K-MS", code="M1", reached_on=date(2026, 11, 30), source_system="clm"
        )

        assert Invoice.objects.get(pk=invoice.pk).amount == Decimal("7500.00")
        assert invoice.lines.count() == 1


class TestRetainer:
    def retainer(self, number: str, *, roll_over: bool) -> Contract:
        contract = sign(
            number,
            BillingModel.RETAINER,
            rate_card="RC-US",
            monthly_fee=Decimal("6000.00"),
            included_hours=Decimal("40"),
            unused_hours_roll_over=roll_over,
        )
        monthly_fee_bill(contract=contract, day=contract.start_date)
        return contract

    def test_unused_hours_roll_over_and_hours_past_the_retainer_bill_at_the_rate(
        self, firm
    ) -> None:
        contract = self.retainer("K-RT", roll_over=True)
        bob = staff(contract, "Bob Stone", "Consultant")
        for day in (2, 3, 4):  # 30 of November's 40 h: 10 h roll over
            work(contract, bob, date(2026, 11, day), "10")
        november = invoice_of(contract, "202611")
        assert lines_of(november) == [
            (
                "Monthly fee November 2026: retainer, 40 h included",
                Decimal("1"),
                Decimal("6000"),
                Decimal("6000"),
            )
        ]
        assert november.amount == Decimal("6000.00")

        assert [i.number for i in monthly_fees_bill(day=date(2026, 12, 1))] == ["INV-P-K-RT-202612"]
        for day in (1, 2, 3, 4, 7):  # 50 h: December's 40 and November's 10
            assert work(contract, bob, date(2026, 12, day), "10").invoice is None
        assert invoice_of(contract, "202612").amount == Decimal("6000.00")

        work(contract, bob, date(2026, 12, 8), "4")  # past the retainer: 4 h at 150
        december = invoice_of(contract, "202612")
        assert december.amount == Decimal("6600.00")
        assert lines_of(december)[1][1:] == (Decimal("4"), Decimal("150"), Decimal("600"))

    def test_unused_hours_lapse_without_roll_over_and_an_entry_can_straddle_the_retainer(
        self, firm
    ) -> None:
        contract = self.retainer("K-RF", roll_over=False)
        bob = staff(contract, "Bob Stone", "Consultant")
        for day in (2, 3, 4):  # 30 h; November's other 10 h lapse
            work(contract, bob, date(2026, 11, day), "10")
        monthly_fee_bill(contract=contract, day=date(2026, 12, 1))
        for day, hours in ((1, "10"), (2, "10"), (3, "10"), (4, "6")):  # 36 of 40 h
            work(contract, bob, date(2026, 12, day), hours)

        work(contract, bob, date(2026, 12, 7), "10", number="T-RF-STRADDLE")

        entry = TimeEntry.objects.get(number="T-RF-STRADDLE")
        assert entry.retainer_hours == Decimal("4.00")
        december = invoice_of(contract, "202612")
        assert december.amount == Decimal("6900.00")  # 6,000 fee + 6 h x 150
        assert lines_of(december)[1] == (
            "2026-12-07 Bob Stone (Consultant, 6 of 10 h past the retainer)",
            Decimal("6"),
            Decimal("150"),
            Decimal("900"),
        )
        assert invoice_of(contract, "202611").amount == Decimal("6000.00")

    def test_the_monthly_fee_is_billed_once_per_month(self, firm) -> None:
        contract = self.retainer("K-RO", roll_over=False)

        assert monthly_fee_bill(contract=contract, day=date(2026, 11, 15)) is None
        assert monthly_fees_bill(day=date(2026, 11, 1)) == []

        november = invoice_of(contract, "202611")
        assert (november.amount, november.lines.count()) == (Decimal("6000.00"), 1)

    def test_an_amended_fee_is_billed_from_the_next_month(self, firm) -> None:
        contract = self.retainer("K-RA", roll_over=False)
        terms = {
            "number": "K-RA",
            "customer": "C-1001",
            "legal_entity": "US01",
            "currency": "USD",
            "billing_model": BillingModel.RETAINER,
            "start_date": date(2026, 11, 1),
            "rate_card": "RC-US",
            "included_hours": Decimal("50"),
        }
        with pytest.raises(RuleViolation) as refused:  # an amendment carries the whole terms
            contract_amend(
                terms=ContractTerms(**terms),
                effective_date=date(2026, 12, 1),
                version=2,
                source_system="clm",
            )
        assert refused.value.code == "billing_terms_missing"

        contract_amend(
            terms=ContractTerms(**terms, monthly_fee=Decimal("7000.00")),
            effective_date=date(2026, 12, 1),
            version=2,
            source_system="clm",
        )
        contract.refresh_from_db()
        monthly_fee_bill(contract=contract, day=date(2026, 12, 1))

        assert invoice_of(contract, "202611").amount == Decimal("6000.00")
        assert lines_of(invoice_of(contract, "202612")) == [
            (
                "Monthly fee December 2026: retainer, 50 h included",
                Decimal("1"),
                Decimal("7000"),
                Decimal("7000"),
            )
        ]

    def test_a_retainer_without_its_fee_is_parked_with_a_named_exception(self, firm) -> None:
        with pytest.raises(RuleViolation) as refused:
            sign("K-NOFEE", BillingModel.RETAINER, rate_card="RC-US")

        assert refused.value.code == "billing_terms_missing"
        assert refused.value.message == (
            "Contract K-NOFEE is retainer but names no monthly fee and no included hours."
        )
        assert refused.value.waiting_on == "contract_billing_terms:K-NOFEE"
        assert not Contract.objects.filter(number="K-NOFEE").exists()


class TestManagedServices:
    def test_it_bills_one_fee_line_a_month_while_the_contract_runs_and_no_time(self, firm) -> None:
        contract = sign(
            "K-MSV",
            BillingModel.MANAGED_SERVICES,
            start_date=date(2026, 11, 15),
            end_date=date(2027, 1, 31),
            monthly_fee=Decimal("2500.00"),
        )
        bob = staff(contract, "Bob Stone", "Consultant")

        monthly_fee_bill(contract=contract, day=contract.start_date)  # a full month, in advance
        assert work(contract, bob, date(2026, 11, 16), "8").invoice is None
        for month in (date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1)):
            monthly_fees_bill(day=month)

        assert {i.number: i.amount for i in Invoice.objects.all()} == {
            "INV-P-K-MSV-202611": Decimal("2500.00"),
            "INV-P-K-MSV-202612": Decimal("2500.00"),
            "INV-P-K-MSV-202701": Decimal("2500.00"),
        }
        assert lines_of(invoice_of(contract, "202612")) == [
            (
                "Monthly fee December 2026: managed services",
                Decimal("1"),
                Decimal("2500"),
                Decimal("2500"),
            )
        ]
        assert all(i.status == InvoiceStatus.AWAITING_APPROVAL for i in Invoice.objects.all())

    def test_managed_services_without_a_fee_are_parked(self, firm) -> None:
        with pytest.raises(RuleViolation) as refused:
            sign("K-MSV0", BillingModel.MANAGED_SERVICES)

        assert refused.value.code == "billing_terms_missing"
        assert refused.value.details == {"contract": "K-MSV0", "missing": ["monthly_fee"]}
