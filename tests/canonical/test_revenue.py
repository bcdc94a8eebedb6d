"""Cost, revenue schedules and margin, worked through with their money (the README's
"Cost, revenue and margin")."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from canonical.choices import BillingModel, InvoiceStatus
from canonical.models import Contract, Invoice, ProjectCost, Resource, TimeEntry
from canonical.selectors import project_margin, revenue_lines_of
from canonical.services.billing import milestone_reach, time_entry_approve
from canonical.services.finance import (
    project_costs_refresh,
    revenue_schedule_refresh,
    time_entries_cost,
)
from tests.factories.canonical import (
    AssignmentFactory,
    ResourceFactory,
)
from tests.support.contracts import sign

pytestmark = pytest.mark.django_db

_numbers = iter(range(1, 10_000))


def staff(contract: Contract, cost_rate: str | None) -> Resource:
    resource = ResourceFactory(
        role="Consultant",
        legal_entity=contract.legal_entity,
        cost_rate=Decimal(cost_rate) if cost_rate is not None else None,
    )
    AssignmentFactory(
        project=contract.projects.get(),
        resource=resource,
        role="Consultant",
        start_date=date(2026, 11, 1),
    )
    return resource


def work(contract: Contract, resource: Resource, day: date, hours: str, billable: bool = True):
    return time_entry_approve(
        number=f"T-{next(_numbers)}",
        project_code=contract.projects.get().code,
        employee_number=resource.employee_number,
        work_date=day,
        hours=Decimal(hours),
        billable=billable,
        approved_at=None,
        version=1,
        source_system="psa",
    )


def schedule_of(contract: Contract, today: date) -> list[tuple[str, str, str, Decimal]]:
    return [
        (f"{line.period_start:%Y-%m}", line.method, line.status, line.amount)
        for line in revenue_lines_of(contract=contract, today=today)
    ]


class TestCost:
    def test_every_approved_hour_costs_hours_times_the_cost_rate_billable_or_not(
        self, firm
    ) -> None:
        contract = sign("K-C1", BillingModel.TIME_AND_MATERIALS, rate_card="RC-US")
        bob = staff(contract, "95.50")

        billed = work(contract, bob, date(2026, 11, 3), "8")
        internal = work(contract, bob, date(2026, 11, 4), "2.5", billable=False)

        assert (billed.entry.cost_rate, billed.entry.cost) == (Decimal("95.50"), Decimal("764.00"))
        assert (internal.entry.cost, internal.invoice) == (Decimal("238.75"), None)
        [november] = project_costs_refresh()
        assert (november.external_id, november.hours, november.amount, november.version) == (
            "COST-P-K-C1-202611",
            Decimal("10.50"),
            Decimal("1002.75"),
            1,
        )

    def test_a_resource_without_a_cost_rate_is_billed_and_costed_once_its_rate_arrives(
        self, firm
    ) -> None:
        contract = sign("K-C2", BillingModel.TIME_AND_MATERIALS, rate_card="RC-US")
        ann = staff(contract, "80.00")
        cy = staff(contract, None)

        work(contract, ann, date(2026, 11, 3), "8")
        result = work(contract, cy, date(2026, 11, 3), "3")

        assert result.invoice is not None  # billing goes on: 3 h at 150
        assert Invoice.objects.get().amount == Decimal("1650.00")
        assert TimeEntry.objects.get(pk=result.entry.pk).cost is None
        [november] = project_costs_refresh()
        assert (november.hours, november.amount, november.uncosted_hours) == (
            Decimal("11.00"),
            Decimal("640.00"),
            Decimal("3.00"),
        )
        assert project_costs_refresh() == []  # nothing changed, no new version

        Resource.objects.filter(pk=cy.pk).update(cost_rate=Decimal("70.00"))  # from the HRIS
        assert time_entries_cost() == [cy.employee_number]
        [changed] = project_costs_refresh()
        assert (changed.amount, changed.uncosted_hours, changed.version) == (
            Decimal("850.00"),
            Decimal("0.00"),
            2,
        )
        assert ProjectCost.objects.count() == 1


class TestRevenueSchedule:
    def test_time_and_materials_is_revenue_as_billed_recognised_once_posted(self, firm) -> None:
        contract = sign("K-R1", BillingModel.TIME_AND_MATERIALS, rate_card="RC-US")
        bob = staff(contract, "90.00")
        work(contract, bob, date(2026, 11, 3), "8")  # 1200.00
        work(contract, bob, date(2026, 12, 1), "4")  # 600.00
        Invoice.objects.filter(number="INV-P-K-R1-202611").update(status=InvoiceStatus.POSTED)

        assert schedule_of(contract, date(2026, 12, 15)) == [
            ("2026-11", "as_billed", "recognised", Decimal("1200.00")),
            ("2026-12", "as_billed", "planned", Decimal("600.00")),
        ]

    def test_a_rejected_invoice_is_no_revenue(self, firm) -> None:
        contract = sign("K-R2", BillingModel.TIME_AND_MATERIALS, rate_card="RC-US")
        work(contract, staff(contract, "90.00"), date(2026, 11, 3), "8")
        Invoice.objects.update(status=InvoiceStatus.REJECTED)

        assert schedule_of(contract, date(2026, 12, 15)) == []

    def test_a_milestone_is_revenue_in_the_month_it_is_reached_and_planned_until_then(
        self, firm
    ) -> None:
        contract = sign(
            "K-R3",
            BillingModel.MILESTONE,
            milestones=(
                {"code": "M1", "name": "Design", "amount": "12000.00", "due_date": "2026-12-15"},
                {"code": "M2", "name": "Go-live", "amount": "18000.50", "due_date": "2027-02-10"},
            ),
        )
        assert schedule_of(contract, date(2026, 11, 10)) == [
            ("2026-12", "milestone", "planned", Decimal("12000.00")),
            ("2027-02", "milestone", "planned", Decimal("18000.50")),
        ]

        milestone_reach(
            contract_number="K-R3", code="M1", reached_on=date(2026, 11, 20), source_system="clm"
        )

        assert schedule_of(contract, date(2026, 11, 25)) == [
            ("2026-11", "milestone", "recognised", Decimal("12000.00")),
            ("2027-02", "milestone", "planned", Decimal("18000.50")),
        ]

    def test_a_retainer_fee_is_straight_line_over_its_term_and_its_overage_as_billed(
        self, firm
    ) -> None:
        contract = sign(
            "K-R4",
            BillingModel.RETAINER,
            rate_card="RC-US",
            monthly_fee=Decimal("6000.00"),
            included_hours=Decimal("40"),
            end_date=date(2027, 1, 31),
        )
        bob = staff(contract, "90.00")
        work(contract, bob, date(2026, 11, 3), "8")  # within the 40 h: covered by the fee
        for day in (4, 5, 6, 9):
            work(contract, bob, date(2026, 11, day), "9")  # 44 h in all: 4 h past, 600.00

        assert schedule_of(contract, date(2026, 12, 10)) == [
            ("2026-11", "as_billed", "planned", Decimal("600.00")),
            ("2026-11", "straight_line", "recognised", Decimal("6000.00")),
            ("2026-12", "straight_line", "recognised", Decimal("6000.00")),
            ("2027-01", "straight_line", "planned", Decimal("6000.00")),
        ]

    def test_an_open_ended_managed_service_is_planned_twelve_months_ahead(self, firm) -> None:
        contract = sign(
            "K-R5", BillingModel.MANAGED_SERVICES, monthly_fee=Decimal("2500.00"), end_date=None
        )

        lines = schedule_of(contract, date(2026, 11, 15))

        assert len(lines) == 12
        assert lines[0] == ("2026-11", "straight_line", "recognised", Decimal("2500.00"))
        assert lines[1] == ("2026-12", "straight_line", "planned", Decimal("2500.00"))
        assert lines[-1] == ("2027-10", "straight_line", "planned", Decimal("2500.00"))

    def test_the_stored_schedule_gets_a_new_version_only_when_it_changes(self, firm) -> None:
        contract = sign(
            "K-R6",
            BillingModel.FIXED_FEE,
            milestones=(
                {"code": "M1", "name": "Design", "amount": "12000.00", "due_date": "2026-12-15"},
            ),
        )
        today = date(2026, 11, 25)
        schedule, changed = revenue_schedule_refresh(contract=contract, today=today)
        assert (schedule.external_id, schedule.total, schedule.version, changed) == (
            "REV-K-R6",
            Decimal("12000.00"),
            1,
            True,
        )
        assert revenue_schedule_refresh(contract=contract, today=today)[1] is False

        milestone_reach(contract_number="K-R6", code="M1", reached_on=today, source_system="clm")
        schedule, changed = revenue_schedule_refresh(contract=contract, today=today)

        assert (schedule.version, changed) == (2, True)
        assert [(f"{x.period_start:%Y-%m}", x.status) for x in schedule.lines.all()] == [
            ("2026-11", "recognised")
        ]


class TestMargin:
    def test_a_projects_margin_is_revenue_recognised_minus_cost_per_month(self, firm) -> None:
        contract = sign("K-M1", BillingModel.TIME_AND_MATERIALS, rate_card="RC-US")
        bob = staff(contract, "90.00")
        work(contract, bob, date(2026, 11, 3), "8")  # bills 1200.00, costs 720.00
        work(contract, bob, date(2026, 12, 1), "4")  # bills 600.00, costs 360.00
        Invoice.objects.filter(number="INV-P-K-M1-202611").update(status=InvoiceStatus.POSTED)

        margin = project_margin(project=contract.projects.get(), today=date(2026, 12, 15))

        assert [
            (f"{m.period_start:%Y-%m}", m.revenue, m.planned_revenue, m.cost, m.margin)
            for m in margin.months
        ] == [
            ("2026-11", Decimal("1200.00"), Decimal("0"), Decimal("720.00"), Decimal("480.00")),
            ("2026-12", Decimal("0"), Decimal("600.00"), Decimal("360.00"), Decimal("-360.00")),
        ]
        assert (margin.revenue, margin.cost, margin.margin, margin.margin_percent) == (
            Decimal("1200.00"),
            Decimal("1080.00"),
            Decimal("120.00"),
            Decimal("10.0"),
        )
