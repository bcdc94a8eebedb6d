"""The measures against records counted by hand (Monday to Friday 09:00 to 17:00 UTC unless
a calendar says otherwise; NOW is Wednesday 4 November 2026, 12:00 UTC)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from canonical.choices import InvoiceStatus, TimeEntryStatus
from canonical.models import Assignment, Invoice, Project, TimeEntry
from controltower.operations.models import BusinessException
from controltower.operations.selectors.measures import (
    failure_recovery,
    failures_per_flow,
    invoice_cycle,
    measure_calendar,
    measure_window,
    measures_figures,
    project_setup_cycle,
    staffing_fulfilment,
    time_to_billing,
    unbilled_by_age,
    utilization,
)
from controltower.operations.services.calendars import WorkingHours
from integrations.choices import ExceptionStatus, ExceptionType, FlowKind, RollupSpan
from integrations.flows.catalog import flows_ensure
from integrations.models import Flow, FlowRollup
from tests.factories.canonical import (
    AssignmentFactory,
    InvoiceFactory,
    ProjectFactory,
    ResourceFactory,
    TimeEntryFactory,
)
from tests.factories.operations import BusinessCalendarFactory, BusinessExceptionFactory
from tests.support.setups import project_set_up

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 4, 12, 0, tzinfo=UTC)  # a Wednesday
OFFICE = WorkingHours()  # Monday to Friday, 09:00 to 17:00 UTC


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def week(key: str = "7d"):
    return measure_window(key=key, now=NOW, tz=UTC)


@pytest.fixture
def setups() -> dict[str, Project]:
    return {
        # Monday 15:00 to Tuesday 11:30: two hours on Monday, two and a half on Tuesday.
        "monday": project_set_up(signed_at=at(2, 15), erp_at=at(3, 10), psa_at=at(3, 11, 30)),
        # Friday 16:00 to Monday 10:00 (66 hours elapsed): one hour each working day.
        "weekend": project_set_up(
            signed_at=at(30, 16, month=10), erp_at=at(2, 9, 30), psa_at=at(2, 10)
        ),
        # In the ERP only: not ready.
        "erp_only": project_set_up(signed_at=at(2, 9), erp_at=at(2, 11), psa_at=None),
        # Ready twelve days ago: in the 30 days, not in the 7.
        "older": project_set_up(
            signed_at=at(22, 9, month=10), erp_at=at(23, 9, month=10), psa_at=at(23, 10, month=10)
        ),
    }


def test_project_setup_counts_business_hours_from_signature_to_ready_in_erp_and_psa(setups):
    measure = project_setup_cycle(window=week(), hours=OFFICE)

    assert [(row["project"], row["business_hours"]) for row in measure["rows"]] == sorted(
        [(setups["monday"].code, Decimal("4.50")), (setups["weekend"].code, Decimal("2.00"))]
    )
    assert measure["count"] == 2
    assert measure["average_hours"] == Decimal("3.25")
    assert measure["median_hours"] == Decimal("3.25")
    assert measure["max_hours"] == Decimal("4.50")
    row = next(r for r in measure["rows"] if r["project"] == setups["monday"].code)
    assert row["signed_at"] == at(2, 15) and row["ready_at"] == at(3, 11, 30)


def test_project_setup_over_30_days_takes_the_older_project_in(setups):
    measure = project_setup_cycle(window=week("30d"), hours=OFFICE)

    # Thursday 22 October 09:00 to Friday 10:00: eight hours and one.
    assert measure["count"] == 3
    assert sorted(row["business_hours"] for row in measure["rows"]) == [
        Decimal("2.00"),
        Decimal("4.50"),
        Decimal("9.00"),
    ]
    assert measure["average_hours"] == Decimal("5.17")


def test_project_setup_skips_a_calendars_holidays(setups):
    calendar = BusinessCalendarFactory(name="A office", time_zone="UTC")
    calendar.holidays.create(date=date(2026, 11, 2), name="Closed")
    hours, described = measure_calendar()

    measure = project_setup_cycle(window=week(), hours=hours)

    # Monday is off: Tuesday 09:00 to 11:30, and Friday 16:00 to 17:00.
    assert sorted(row["business_hours"] for row in measure["rows"]) == [
        Decimal("1.00"),
        Decimal("2.50"),
    ]
    assert described == "A office (Monday to Friday 09:00 to 17:00 UTC, 1 holidays)"


def test_without_data_a_measure_says_so_rather_than_zero():
    measure = project_setup_cycle(window=week(), hours=OFFICE)

    assert measure == {
        "count": 0,
        "average_hours": None,
        "median_hours": None,
        "max_hours": None,
        "rows": [],
    }
    assert measure_calendar()[1] == "the default (Monday to Friday 09:00 to 17:00 UTC)"


def test_staffing_fulfilment_runs_from_project_created_to_its_first_assignment():
    slow = ProjectFactory()
    quick = ProjectFactory()
    long_staffed = ProjectFactory()
    Project.objects.filter(pk=slow.pk).update(created_at=at(2, 10))
    Project.objects.filter(pk=quick.pk).update(created_at=at(2, 16))
    Project.objects.filter(pk=long_staffed.pk).update(created_at=at(1, 10, month=10))
    for project, created in (
        (slow, at(3, 14)),
        (slow, at(4, 9)),
        (quick, at(2, 16, 30)),
        (long_staffed, at(5, 10, month=10)),  # its first, weeks ago
        (long_staffed, at(4, 10)),  # a later one does not make it new
    ):
        assignment = AssignmentFactory(project=project)
        Assignment.objects.filter(pk=assignment.pk).update(created_at=created)

    measure = staffing_fulfilment(window=week(), hours=OFFICE)

    # Monday 10:00 to Tuesday 14:00: seven hours and five; Monday 16:00 to 16:30.
    assert {row["project"]: row["business_hours"] for row in measure["rows"]} == {
        slow.code: Decimal("12.00"),
        quick.code: Decimal("0.50"),
    }
    assert measure["average_hours"] == Decimal("6.25")
    assert measure["count"] == 2


def posted_invoice(*, created: datetime, posted: datetime, number: str) -> Invoice:
    invoice = InvoiceFactory(
        number=number, status=InvoiceStatus.POSTED, posted_at=posted, amount=Decimal("2400.00")
    )
    Invoice.objects.filter(pk=invoice.pk).update(created_at=created)
    return invoice


def test_time_to_billing_averages_approval_to_posting_over_invoices_posted_in_the_range():
    invoice = posted_invoice(created=at(2, 12), posted=at(4, 8), number="INV-9001")
    old = posted_invoice(created=at(1, 8, month=9), posted=at(20, 8, month=9), number="INV-9002")
    candidate = InvoiceFactory(number="INV-9003", status=InvoiceStatus.CANDIDATE)
    for on, approved in ((invoice, at(2, 8)), (invoice, at(3, 8)), (old, at(1, 8, month=9))):
        TimeEntryFactory(
            invoice=on, approved_at=approved, status=TimeEntryStatus.INVOICED, hours=Decimal("8")
        )
    TimeEntryFactory(invoice=candidate, approved_at=at(1, 8), status=TimeEntryStatus.APPROVED)

    measure = time_to_billing(window=week())

    # 48 and 24 hours from approval to Wednesday 08:00.
    assert measure["count"] == 2
    assert measure["invoices"] == 1
    assert measure["average_hours"] == Decimal("36.00")
    assert measure["rows"] == [
        {
            "invoice": "INV-9001",
            "posted_at": at(4, 8),
            "entries": 2,
            "hours_worked": Decimal("16.00"),
            "average_wait_hours": Decimal("36.00"),
        }
    ]


def test_invoice_cycle_runs_from_candidate_prepared_to_posted():
    posted_invoice(created=at(2, 12), posted=at(4, 8), number="INV-9101")  # 44 hours
    posted_invoice(created=at(3, 8), posted=at(4, 10), number="INV-9102")  # 26 hours
    posted_invoice(created=at(1, 8, month=9), posted=at(2, 8, month=9), number="INV-9103")
    InvoiceFactory(number="INV-9104", status=InvoiceStatus.AWAITING_APPROVAL)

    measure = invoice_cycle(window=week())

    assert [(row["invoice"], row["hours"]) for row in measure["rows"]] == [
        ("INV-9101", Decimal("44.00")),
        ("INV-9102", Decimal("26.00")),
    ]
    assert measure["average_hours"] == Decimal("35.00")
    assert measure["median_hours"] == Decimal("35.00")


def test_unbilled_approved_time_is_bucketed_by_the_age_of_its_approval():
    for days, hours in ((2, "8"), (10, "6"), (12, "4"), (45, "3"), (90, "1.5")):
        TimeEntryFactory(
            status=TimeEntryStatus.APPROVED, approved_at=NOW - timedelta(days=days), hours=hours
        )
    TimeEntryFactory(status=TimeEntryStatus.APPROVED, approved_at=NOW, billable=False, hours="5")
    TimeEntryFactory(status=TimeEntryStatus.INVOICED, approved_at=NOW, hours="7")
    TimeEntryFactory(status=TimeEntryStatus.SUBMITTED, hours="9")

    measure = unbilled_by_age(now=NOW)

    assert [(row["age"], row["entries"], row["hours"]) for row in measure["rows"]] == [
        ("under_7d", 1, Decimal("8.00")),
        ("7d_30d", 2, Decimal("10.00")),
        ("30d_60d", 1, Decimal("3.00")),
        ("over_60d", 1, Decimal("1.50")),
    ]
    assert measure["entries"] == 5
    assert measure["hours"] == Decimal("22.50")


def resolved(created: datetime, done: datetime | None, status=ExceptionStatus.RESOLVED, **kw):
    exception = BusinessExceptionFactory(
        flow=FlowKind.CONTRACT_TO_PROJECT, status=status, resolved_at=done, **kw
    )
    BusinessException.objects.filter(pk=exception.pk).update(created_at=created)
    return exception


def test_recovery_time_averages_raised_to_resolved_leaving_dismissed_ones_out():
    resolved(at(2, 10), at(2, 13), exception_type=ExceptionType.MISSING_RATE_CARD)  # 3 hours
    resolved(at(3, 8), at(4, 8), exception_type=ExceptionType.MISSING_RATE_CARD)  # 24 hours
    resolved(at(2, 8), at(4, 8), status=ExceptionStatus.DISMISSED)
    resolved(at(2, 8), None, status=ExceptionStatus.OPEN)
    resolved(at(1, 8, month=10), at(2, 8, month=10))

    measure = failure_recovery(window=week())

    assert measure["count"] == 2
    assert measure["average_hours"] == Decimal("13.50")
    assert measure["rows"] == [
        {
            "flow": "Contract to project",
            "exception_type": ExceptionType.MISSING_RATE_CARD,
            "resolved": 2,
            "average_hours": Decimal("13.50"),
        }
    ]


@pytest.fixture
def stops() -> dict[str, Flow]:
    flows_ensure(Flow)
    flows = {flow.kind: flow for flow in Flow.objects.all()}
    c2p, master = flows[FlowKind.CONTRACT_TO_PROJECT], flows[FlowKind.MASTER_DATA_SYNC]
    hour = NOW.replace(minute=0)
    for flow, bucket, counts in (
        (c2p, hour, {"dead": 1, "blocked": 2, "succeeded": 9}),
        (c2p, hour - timedelta(hours=3), {"blocked": 1}),
        (master, hour - timedelta(days=2), {"dead": 4}),
        (master, hour - timedelta(days=10), {"blocked": 7}),
        (master, hour - timedelta(hours=1), {"succeeded": 5}),  # no failure
    ):
        FlowRollup.objects.create(flow=flow, span=RollupSpan.HOUR, bucket=bucket, **counts)
    return flows


def totals(measure: dict) -> dict[str, int]:
    return {d["kind"]: d["total"] for d in measure["datasets"] if d["total"]}


def test_failures_per_flow_come_per_hour_for_a_day_and_per_day_for_longer(stops):
    day = failures_per_flow(window=week("24h"))
    assert len(day["labels"]) == 24 and day["unit"] == "hour"
    assert totals(day) == {FlowKind.CONTRACT_TO_PROJECT: 4}
    c2p = next(d for d in day["datasets"] if d["kind"] == FlowKind.CONTRACT_TO_PROJECT)
    assert c2p["data"][-1] == 3 and c2p["data"][-4] == 1

    seven = failures_per_flow(window=week("7d"))
    assert seven["labels"][-1] == "Wed 04 Nov" and len(seven["labels"]) == 7
    assert totals(seven) == {FlowKind.CONTRACT_TO_PROJECT: 4, FlowKind.MASTER_DATA_SYNC: 4}
    master = next(d for d in seven["datasets"] if d["kind"] == FlowKind.MASTER_DATA_SYNC)
    assert master["data"] == [0, 0, 0, 0, 4, 0, 0]  # Monday

    thirty = failures_per_flow(window=week("30d"))
    assert len(thirty["labels"]) == 30
    assert totals(thirty) == {FlowKind.CONTRACT_TO_PROJECT: 4, FlowKind.MASTER_DATA_SYNC: 11}
    assert thirty["total"] == 15
    assert {"bucket": "Wed 04 Nov", "flow": "Contract to project", "failures": 4} in thirty["rows"]


def test_utilization_sets_billable_hours_against_the_working_hours_of_the_days():
    busy = ResourceFactory(employee_number="E-7001", role="Consultant")
    light = ResourceFactory(employee_number="E-7002", role="Consultant")
    ResourceFactory(employee_number="E-7003", role="Architect")
    ResourceFactory(employee_number="E-7004", role="Architect", active=False)
    for resource, day, hours, extra in (
        (busy, date(2026, 11, 2), "8", {}),
        (busy, date(2026, 11, 3), "8", {}),
        (busy, date(2026, 11, 4), "8", {}),
        (busy, date(2026, 10, 30), "6", {}),
        (busy, date(2026, 11, 4), "4", {"billable": False}),
        (busy, date(2026, 11, 3), "8", {"status": TimeEntryStatus.REJECTED}),
        (busy, date(2026, 10, 20), "8", {}),  # before the week
        (light, date(2026, 11, 2), "10", {"status": TimeEntryStatus.APPROVED}),
    ):
        TimeEntryFactory(
            assignment=AssignmentFactory(resource=resource), work_date=day, hours=hours, **extra
        )

    measure = utilization(window=week(), hours=OFFICE)

    # Thursday 29 October to Wednesday 4 November: five working days of eight hours.
    assert measure["capacity_per_person"] == Decimal("40.00")
    assert [
        (row["employee_number"], row["billable_hours"], row["utilization"])
        for row in measure["rows"]
    ] == [
        ("E-7001", Decimal("30.00"), Decimal("0.7500")),
        ("E-7002", Decimal("10.00"), Decimal("0.2500")),
        ("E-7003", Decimal("0"), Decimal("0.0000")),
    ]
    assert [(t["team"], t["people"], t["utilization"]) for t in measure["teams"]] == [
        ("Architect", 1, Decimal("0.0000")),
        ("Consultant", 2, Decimal("0.5000")),
    ]
    assert measure["utilization"] == Decimal("0.3333")
    assert measure["capacity_hours"] == Decimal("120.00")


def test_all_measures_are_read_in_a_bounded_number_of_queries(
    setups, stops, django_assert_max_num_queries
):
    for n in range(30):
        TimeEntryFactory(status=TimeEntryStatus.APPROVED, approved_at=NOW - timedelta(days=n))
    TimeEntry.objects.update(work_date=date(2026, 11, 3))

    with django_assert_max_num_queries(12):
        figures = measures_figures(window=week("30d"), now=NOW)

    assert figures["project_setup"]["count"] == 3
    assert figures["unbilled"]["entries"] == 30
    assert figures["failures"]["total"] == 15
