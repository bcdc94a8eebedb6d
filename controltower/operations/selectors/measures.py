"""The measures people manage by, computed from the tower's own records and roll-ups.

Each measure is read with a few aggregate queries bounded by its window (the records
that finished the measured step within it), never by history: project setup from the
projects whose ERP and PSA sync states were written in the window, staffing from the
assignments created in it, billing latencies from the invoices posted in it, recovery
from the exceptions resolved in it, failures from the hourly flow roll-ups and
utilization from the time worked on the window's days. Unbilled time by age is a
snapshot of what stands now.

Cycle times a person works on (project setup, staffing) are measured in business hours
of a business calendar (``controltower.operations.services.calendars``); the others,
which run on the machines' and the customers' clock, in elapsed time.

Every function returns ``rows`` too: what its CSV export lists.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Case, CharField, Count, DurationField, F, Max, Min, Q, Sum, Value, When
from django.db.models import ExpressionWrapper as Expr
from django.db.models.functions import Coalesce
from django.utils import timezone

from canonical.choices import InvoiceStatus, TimeEntryStatus
from canonical.models import Assignment, Invoice, Project, Resource, TimeEntry
from controltower.operations.models import BusinessCalendar, BusinessException
from controltower.operations.services.calendars import WorkingHours, business_duration_between
from integrations.choices import ExceptionStatus, FlowKind, RollupSpan, SystemKind
from integrations.models import Flow, FlowRollup, SyncState
from integrations.services.rollups import bucket_start

POSTED_INVOICE_STATUSES = (InvoiceStatus.POSTED, InvoiceStatus.PAID)
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Window:
    """A measure's range: ``since`` to ``until``, and the local calendar days it touches
    (``days``, today last) for the measures counted by day."""

    key: str
    label: str
    since: datetime
    until: datetime
    days: tuple[date, ...]
    tz: tzinfo


RANGES = {
    "24h": ("Last 24 hours", timedelta(hours=24), 1),
    "7d": ("Last 7 days", timedelta(days=7), 7),
    "30d": ("Last 30 days", timedelta(days=30), 30),
}


@dataclass(frozen=True)
class AgeBucket:
    key: str
    label: str
    older_than: timedelta


UNBILLED_AGES = (
    AgeBucket("under_7d", "Under a week", timedelta(0)),
    AgeBucket("7d_30d", "1 week to 30 days", timedelta(days=7)),
    AgeBucket("30d_60d", "30 to 60 days", timedelta(days=30)),
    AgeBucket("over_60d", "Over 60 days", timedelta(days=60)),
)


def measure_window(*, key: str, now: datetime | None = None, tz: tzinfo | None = None) -> Window:
    """The range named ``key`` (24h, 7d or 30d; 7d for anything else) ending ``now``."""
    key = key if key in RANGES else "7d"
    label, length, day_count = RANGES[key]
    now = now or timezone.now()
    tz = tz or timezone.get_current_timezone()
    today = now.astimezone(tz).date()
    days = tuple(today - timedelta(days=n) for n in range(day_count - 1, -1, -1))
    return Window(key=key, label=label, since=now - length, until=now, days=days, tz=tz)


def measure_calendar() -> tuple[WorkingHours, str]:
    """The business calendar measures count business hours on: the first one configured
    (by name), else Monday to Friday 09:00 to 17:00 UTC. Returns it and its description."""
    calendar = BusinessCalendar.objects.prefetch_related("holidays").order_by("name").first()
    hours = WorkingHours.of(calendar) if calendar else WorkingHours()
    days = "".join(str(d) for d in sorted(hours.working_days))
    span = "Monday to Friday" if days == "01234" else f"weekdays {days}"
    text = f"{span} {hours.day_start:%H:%M} to {hours.day_end:%H:%M} {hours.time_zone}" + (
        f", {len(hours.holidays)} holidays" if hours.holidays else ""
    )
    return hours, f"{calendar.name} ({text})" if calendar else f"the default ({text})"


def _hours(delta: timedelta) -> Decimal:
    return Decimal(delta.total_seconds() / 3600).quantize(Decimal("0.01"))


def _two(value: Decimal | None) -> Decimal:
    """Hours to two places, whatever the database's sum gave back."""
    return Decimal(value or 0).quantize(Decimal("0.01"))


def _summary(values: list[Decimal]) -> dict[str, Any]:
    """Count, average, median and longest of durations in hours."""
    if not values:
        return {"count": 0, "average_hours": None, "median_hours": None, "max_hours": None}
    return {
        "count": len(values),
        "average_hours": (sum(values) / len(values)).quantize(Decimal("0.01")),
        "median_hours": Decimal(statistics.median(values)).quantize(Decimal("0.01")),
        "max_hours": max(values),
    }


def project_setup_cycle(*, window: Window, hours: WorkingHours) -> dict[str, Any]:
    """Contract signed to project ready in the ERP and the PSA, in business hours.

    A project is ready when both its ERP and its PSA sync state have been written; the
    later of the two is the moment, and the projects counted are those ready within the
    window. (A sync state keeps its last write: a project pushed again later counts then.)
    """
    project_type = ContentType.objects.get_for_model(Project)
    recent = SyncState.objects.filter(
        content_type=project_type, synced_at__gte=window.since, synced_at__lte=window.until
    ).values("object_id")
    ready = dict(
        SyncState.objects.filter(
            content_type=project_type,
            object_id__in=recent,
            system__kind__in=(SystemKind.ERP, SystemKind.PSA),
            synced_at__isnull=False,
        )
        .values_list("object_id")
        .annotate(kinds=Count("system__kind", distinct=True), ready_at=Max("synced_at"))
        .filter(kinds=2, ready_at__gte=window.since, ready_at__lte=window.until)
        .values_list("object_id", "ready_at")
        .order_by()
    )
    projects = (
        Project.objects.filter(pk__in=list(ready), contract__signed_at__isnull=False)
        .values_list("pk", "code", "contract__number", "contract__signed_at")
        .order_by("code")
    )
    rows = []
    for pk, code, contract, signed_at in projects:
        taken = _hours(business_duration_between(hours, signed_at, ready[pk]))
        rows.append(
            {
                "project": code,
                "contract": contract,
                "signed_at": signed_at,
                "ready_at": ready[pk],
                "business_hours": taken,
            }
        )
    return {**_summary([row["business_hours"] for row in rows]), "rows": rows}


def staffing_fulfilment(*, window: Window, hours: WorkingHours) -> dict[str, Any]:
    """Project created in the tower to its first consultant staffed, in business hours,
    over the projects whose first assignment came within the window."""
    recent = Assignment.objects.filter(
        created_at__gte=window.since, created_at__lte=window.until
    ).values("project_id")
    firsts = (
        Assignment.objects.filter(project_id__in=recent)
        .values_list("project__code", "project__created_at")
        .annotate(first=Min("created_at"))
        .filter(first__gte=window.since, first__lte=window.until)
        .order_by("project__code")
    )
    rows = [
        {
            "project": code,
            "created_at": created_at,
            "first_staffed_at": first,
            "business_hours": _hours(business_duration_between(hours, created_at, first)),
        }
        for code, created_at, first in firsts
    ]
    return {**_summary([row["business_hours"] for row in rows]), "rows": rows}


def _posted_in(window: Window, prefix: str = "") -> Q:
    return Q(
        **{
            f"{prefix}status__in": POSTED_INVOICE_STATUSES,
            f"{prefix}posted_at__gte": window.since,
            f"{prefix}posted_at__lte": window.until,
        }
    )


def time_to_billing(*, window: Window) -> dict[str, Any]:
    """Time approved to its invoice posted in the ERP (elapsed), per time entry, over the
    invoices posted within the window; the rows are per invoice."""
    waited = Expr(
        F("invoice__posted_at") - Coalesce("approved_at", "created_at"),
        output_field=DurationField(),
    )
    rows = list(
        TimeEntry.objects.filter(
            Q(invoice_id__in=Invoice.objects.filter(_posted_in(window)).values("pk")),
            _posted_in(window, "invoice__"),
        )
        .values_list("invoice__number", "invoice__posted_at")
        .annotate(entries=Count("*"), hours_worked=Sum("hours"), waited=Sum(waited))
        .order_by("invoice__number")
    )
    entries = sum(row[2] for row in rows)
    waited_total = sum((row[4] for row in rows), timedelta(0))
    return {
        "count": entries,
        "invoices": len(rows),
        "average_hours": _hours(waited_total / entries) if entries else None,
        "rows": [
            {
                "invoice": number,
                "posted_at": posted_at,
                "entries": n,
                "hours_worked": _two(worked),
                "average_wait_hours": _hours(total / n),
            }
            for number, posted_at, n, worked, total in rows
        ],
    }


def invoice_cycle(*, window: Window) -> dict[str, Any]:
    """Invoice candidate prepared in the tower to posted in the ERP (elapsed), over the
    invoices posted within the window."""
    rows = list(
        Invoice.objects.filter(_posted_in(window))
        .values_list("number", "customer__number", "currency", "amount", "created_at", "posted_at")
        .order_by("number")
    )
    shaped = [
        {
            "invoice": number,
            "customer": customer,
            "currency": currency,
            "amount": amount,
            "prepared_at": created_at,
            "posted_at": posted_at,
            "hours": _hours(posted_at - created_at),
        }
        for number, customer, currency, amount, created_at, posted_at in rows
    ]
    return {**_summary([row["hours"] for row in shaped]), "rows": shaped}


def unbilled_by_age(*, now: datetime) -> dict[str, Any]:
    """Approved billable time not yet invoiced, by how long ago it was approved (now)."""
    approved = Coalesce("approved_at", "created_at")
    age = Case(
        *(
            When(**{"approved_on__lte": now - bucket.older_than}, then=Value(bucket.key))
            for bucket in reversed(UNBILLED_AGES)
        ),
        default=Value(UNBILLED_AGES[0].key),
        output_field=CharField(),
    )
    counted = dict(
        (key, (n, hours))
        for key, n, hours in TimeEntry.objects.filter(
            status=TimeEntryStatus.APPROVED, billable=True
        )
        .annotate(approved_on=approved)
        .annotate(age=age)
        .values_list("age")
        .annotate(n=Count("*"), hours=Sum("hours"))
        .order_by()
    )
    rows = [
        {
            "age": bucket.key,
            "label": bucket.label,
            "entries": counted.get(bucket.key, (0, None))[0],
            "hours": _two(counted.get(bucket.key, (0, None))[1]),
        }
        for bucket in UNBILLED_AGES
    ]
    return {
        "entries": sum(row["entries"] for row in rows),
        "hours": sum((row["hours"] for row in rows), Decimal("0")),
        "rows": rows,
    }


def failure_recovery(*, window: Window) -> dict[str, Any]:
    """Exception raised to resolved (elapsed), over the exceptions resolved within the
    window (dismissed ones fixed nothing and are left out); rows per flow and type."""
    took = Expr(F("resolved_at") - F("created_at"), output_field=DurationField())
    rows = list(
        BusinessException.objects.filter(
            status=ExceptionStatus.RESOLVED,
            resolved_at__gte=window.since,
            resolved_at__lte=window.until,
        )
        .values_list("flow", "exception_type")
        .annotate(n=Count("*"), took=Sum(took))
        .order_by("flow", "exception_type")
    )
    count = sum(row[2] for row in rows)
    total = sum((row[3] for row in rows), timedelta(0))
    flows = dict(FlowKind.choices)
    return {
        "count": count,
        "average_hours": _hours(total / count) if count else None,
        "rows": [
            {
                "flow": flows.get(flow, flow or "No flow"),
                "exception_type": exception_type,
                "resolved": n,
                "average_hours": _hours(took_total / n),
            }
            for flow, exception_type, n, took_total in rows
        ],
    }


def failures_per_flow(*, window: Window) -> dict[str, Any]:
    """Stops per flow (dead letters and blocked transactions) per hour over 24 hours, per
    local day over 7 and 30 days, from the hourly roll-ups."""
    flows = list(Flow.objects.order_by("kind").values_list("id", "kind", "name"))
    if window.key == "24h":
        last = bucket_start(window.until, RollupSpan.HOUR)
        buckets = [last - HOUR * n for n in range(23, -1, -1)]
        first = buckets[0]
        labels = [timezone.localtime(b, window.tz).strftime("%H:%M") for b in buckets]
        index = {b: i for i, b in enumerate(buckets)}

        def position(bucket: datetime) -> int | None:
            return index.get(bucket)
    else:
        first = datetime.combine(window.days[0], time.min, tzinfo=window.tz)
        labels = [day.strftime("%a %d %b") for day in window.days]
        index_day = {day: i for i, day in enumerate(window.days)}

        def position(bucket: datetime) -> int | None:
            return index_day.get(bucket.astimezone(window.tz).date())

    series = {flow_id: [0] * len(labels) for flow_id, _, _ in flows}
    rows = FlowRollup.objects.filter(
        span=RollupSpan.HOUR,
        bucket__gte=first,
        bucket__lte=window.until,
    ).filter(Q(dead__gt=0) | Q(blocked__gt=0))
    for flow_id, bucket, dead, blocked in rows.values_list(
        "flow_id", "bucket", "dead", "blocked"
    ).order_by():
        i = position(bucket)
        if i is not None and flow_id in series:
            series[flow_id][i] += dead + blocked
    datasets = [
        {"label": name, "kind": kind, "data": series[flow_id], "total": sum(series[flow_id])}
        for flow_id, kind, name in flows
    ]
    return {
        "labels": labels,
        "unit": "hour" if window.key == "24h" else "day",
        "datasets": datasets,
        "total": sum(d["total"] for d in datasets),
        "rows": [
            {"bucket": label, "flow": d["label"], "failures": d["data"][i]}
            for i, label in enumerate(labels)
            for d in datasets
        ],
    }


def utilization(*, window: Window, hours: WorkingHours) -> dict[str, Any]:
    """Billable hours worked on the window's days over capacity (the calendar's working
    hours on those days), per active consultant and per team (the role the HRIS gives)."""
    capacity = Decimal("0")
    for day in window.days:
        if period := hours.period(day):
            capacity += _hours(period[1] - period[0])
    # The window's time entries summed first, then the people: a join of every person with
    # all their time would read the whole history.
    worked = dict(
        TimeEntry.objects.filter(
            work_date__gte=window.days[0], work_date__lte=window.days[-1], billable=True
        )
        .exclude(status=TimeEntryStatus.REJECTED)
        .values_list("resource_id")
        .annotate(hours=Sum("hours"))
        .order_by()
    )
    people = (
        Resource.objects.filter(active=True)
        .values_list("pk", "employee_number", "name", "role")
        .order_by("employee_number")
    )
    rows = []
    teams: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"people": 0, "billable_hours": Decimal("0"), "capacity_hours": Decimal("0")}
    )
    for pk, number, name, role in people:
        billable = _two(worked.get(pk))
        rows.append(
            {
                "employee_number": number,
                "name": name,
                "team": role,
                "billable_hours": billable,
                "capacity_hours": capacity,
                "utilization": _share(billable, capacity),
            }
        )
        team = teams[role]
        team["people"] += 1
        team["billable_hours"] += billable
        team["capacity_hours"] += capacity
    team_rows = [
        {
            "team": role,
            **team,
            "utilization": _share(team["billable_hours"], team["capacity_hours"]),
        }
        for role, team in sorted(teams.items())
    ]
    billable_total = sum((row["billable_hours"] for row in rows), Decimal("0"))
    capacity_total = capacity * len(rows)
    return {
        "capacity_per_person": capacity,
        "billable_hours": billable_total,
        "capacity_hours": capacity_total,
        "utilization": _share(billable_total, capacity_total),
        "teams": team_rows,
        "rows": rows,
    }


def _share(part: Decimal, whole: Decimal) -> Decimal | None:
    """``part`` over ``whole`` to four places (0.6250 is 62.5 %); None over nothing."""
    return (part / whole).quantize(Decimal("0.0001")) if whole else None


def measures_figures(*, window: Window, now: datetime | None = None) -> dict[str, Any]:
    """Every measure over ``window``, with the calendar business hours were counted on."""
    hours, calendar = measure_calendar()
    return {
        "calendar": calendar,
        "project_setup": project_setup_cycle(window=window, hours=hours),
        "staffing": staffing_fulfilment(window=window, hours=hours),
        "time_to_billing": time_to_billing(window=window),
        "invoice_cycle": invoice_cycle(window=window),
        "unbilled": unbilled_by_age(now=now or window.until),
        "recovery": failure_recovery(window=window),
        "failures": failures_per_flow(window=window),
        "utilization": utilization(window=window, hours=hours),
    }
