"""The overview's figures.

Every query here is bounded by what is live or recent, never by history: throughput
and success rates come from the flow roll-ups (a fixed number of buckets), the queues
from the (flow, state) index (one short range per flow and live state), exceptions
and SLA breaches from their open rows, billing figures from the invoices still open
or posted within a recent window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from django.db.models import Case, CharField, Count, DurationField, F, Q, Sum, Value, When
from django.db.models import ExpressionWrapper as Expr
from django.db.models.functions import Coalesce
from django.utils import timezone

from canonical.choices import InvoiceStatus
from canonical.models import (
    Invoice,
    InvoiceLine,
    TimeEntry,
)
from controltower.operations.choices import SlaState
from controltower.operations.models import BusinessException, SlaBreach
from controltower.operations.selectors.measures import (
    measure_calendar,
    measure_window,
    project_setup_cycle,
)
from integrations.choices import LIVE_STATES, OPEN_STATUSES, ExceptionType, RollupSpan
from integrations.models import Flow, FlowRollup, Transaction
from integrations.models.rollups import finished_count
from integrations.services.rollups import COUNTERS as ROLLUP_COUNTERS
from integrations.services.rollups import bucket_start

# Invoices whose time is approved but not yet billed in the ERP.
UNBILLED_INVOICE_STATUSES = (
    InvoiceStatus.CANDIDATE,
    InvoiceStatus.AWAITING_APPROVAL,
    InvoiceStatus.APPROVED,
)
POSTED_INVOICE_STATUSES = (InvoiceStatus.POSTED, InvoiceStatus.PAID)
INVOICE_LATENCY_WINDOW = timedelta(days=30)
COUNTERS = tuple(c for c in ROLLUP_COUNTERS if c != "latency_us")  # the counts, not the times


@dataclass(frozen=True)
class AgeBucket:
    key: str
    label: str
    older_than: timedelta  # the bucket holds items at least this old (and younger than the last)


AGE_BUCKETS = (
    AgeBucket("under_1d", "Under a day", timedelta(0)),
    AgeBucket("1d_3d", "1 to 3 days", timedelta(days=1)),
    AgeBucket("3d_7d", "3 to 7 days", timedelta(days=3)),
    AgeBucket("over_7d", "Over a week", timedelta(days=7)),
)


def overview_figures(*, now: datetime | None = None) -> dict[str, Any]:
    """Everything the overview shows, in a dozen bounded queries.

    Keys: ``generated_at``; ``flows`` (per flow: name, paused, ``last_24h`` and
    ``last_7d`` counts with success rate and average latency, live ``queues`` by
    state); ``totals`` (the same over all flows); ``throughput`` (``hourly``: the
    last 24 hour buckets, ``minutely``: the last 60 minute buckets; each
    ``{"buckets": [...], "series": {flow kind: {counter: [...]}}}``); ``queues``
    (live transactions by state); ``sla`` (open at risk, open breached, breached
    in the last 24 h); ``exceptions`` (open count, money at risk by currency, and
    by type, team and age); ``cycle_times`` (contract signed to project ready in the
    ERP and the PSA, average business hours, and approved time to invoice, average
    seconds; each with its count); ``unbilled`` (approved hours and value
    on invoices not yet posted, by currency); ``invoices_awaiting_approval``.

    Windows end with the current bucket: "24 h" is the current hour and the 23
    before it. Money is never added across currencies.
    """
    now = now or timezone.now()
    flows = list(Flow.objects.order_by("kind").values("id", "kind", "name", "paused"))
    by_id = {flow["id"]: flow for flow in flows}
    hourly, day_by_flow = _series(RollupSpan.HOUR, 24, now, by_id)
    minutely, _ = _series(RollupSpan.MINUTE, 60, now, by_id)
    this_hour = bucket_start(now, RollupSpan.HOUR)
    week = _window_totals(first=this_hour - timedelta(hours=167), last=this_hour)
    day = {
        flow_id: {c: sum(values) for c, values in series.items()}
        for flow_id, series in day_by_flow.items()
    }
    queues = _live_queues(flow_ids=list(by_id))
    per_flow = []
    for flow in flows:
        per_flow.append(
            {
                "kind": flow["kind"],
                "name": flow["name"],
                "paused": flow["paused"],
                "last_24h": _with_rates(day.get(flow["id"])),
                "last_7d": _with_rates(week.get(flow["id"])),
                "queues": {state: by_flow.get(flow["id"], 0) for state, by_flow in queues.items()},
            }
        )
    return {
        "generated_at": now,
        "flows": per_flow,
        "totals": {
            "last_24h": _totals(day.values()),
            "last_7d": _totals(week.values()),
        },
        "throughput": {"hourly": hourly, "minutely": minutely},
        "queues": {state: sum(by_flow.values()) for state, by_flow in queues.items()},
        "sla": _sla(now),
        "exceptions": _open_exceptions(now),
        "cycle_times": {
            "contract_to_project": _project_setup(now),
            "approved_time_to_invoice": _approved_time_to_invoice(now),
        },
        "unbilled": _unbilled(),
        "invoices_awaiting_approval": _awaiting_approval(),
    }


def _empty() -> dict[str, int]:
    return dict.fromkeys((*COUNTERS, "latency_us"), 0)


def _sum_flows(rows) -> dict[str, int]:
    total = _empty()
    for row in rows:
        for key, value in row.items():
            total[key] += value
    return total


def _finished(counts: dict[str, int]) -> int:
    return finished_count(
        succeeded=counts["succeeded"],
        dead=counts["dead"],
        blocked=counts["blocked"],
        recovered=counts["recovered"],
    )


def _with_rates(counts: dict[str, int] | None, *, finished: int | None = None) -> dict[str, Any]:
    counts = {**_empty(), **(counts or {})}
    finished = _finished(counts) if finished is None else finished
    return {
        **{c: counts[c] for c in COUNTERS},
        "failed": counts["dead"] + counts["blocked"],
        "finished": finished,
        "success_rate": counts["succeeded"] / finished if finished else None,
        "average_latency_ms": counts["latency_us"] / counts["succeeded"] / 1000
        if counts["succeeded"]
        else None,
    }


def _totals(per_flow: Iterable[dict[str, int]]) -> dict[str, Any]:
    """The rates over all flows; each flow's stops are set against its own re-runs."""
    rows = [{**_empty(), **row} for row in per_flow]
    return _with_rates(_sum_flows(rows), finished=sum(_finished(row) for row in rows))


def _series(
    span: int, points: int, now: datetime, flows: dict[int, dict]
) -> tuple[dict[str, Any], dict[int, dict[str, list[int]]]]:
    """The last ``points`` buckets of every flow, zeros where nothing happened.

    Returns the chart's series by flow kind, and the same with latency by flow id.
    """
    last = bucket_start(now, span)
    buckets = [last - timedelta(seconds=span * i) for i in range(points - 1, -1, -1)]
    index = {bucket: i for i, bucket in enumerate(buckets)}
    by_id: dict[int, dict[str, list[int]]] = {
        flow_id: {c: [0] * points for c in (*COUNTERS, "latency_us")} for flow_id in flows
    }
    rows = FlowRollup.objects.filter(span=span, bucket__gte=buckets[0], bucket__lte=last)
    for row in rows.values_list("flow_id", "bucket", *COUNTERS, "latency_us").order_by():
        flow_id, bucket, *values = row
        if flow_id not in by_id:
            continue
        for name, value in zip((*COUNTERS, "latency_us"), values, strict=True):
            by_id[flow_id][name][index[bucket]] = value
    chart = {
        "buckets": buckets,
        "series": {
            flows[flow_id]["kind"]: {c: series[c] for c in COUNTERS}
            for flow_id, series in by_id.items()
        },
    }
    return chart, by_id


def _window_totals(*, first: datetime, last: datetime) -> dict[int, dict[str, int]]:
    rows = (
        FlowRollup.objects.filter(span=RollupSpan.HOUR, bucket__gte=first, bucket__lte=last)
        .values_list("flow_id")
        .annotate(*(Sum(c) for c in (*COUNTERS, "latency_us")))
        .order_by()
    )
    return {
        flow_id: dict(zip((*COUNTERS, "latency_us"), values, strict=True))
        for flow_id, *values in rows
    }


def _live_queues(*, flow_ids: list[int]) -> dict[str, dict[int, int]]:
    """Live transactions by state and flow.

    Naming every flow lets the (flow, state) index answer with one short range per
    flow and live state (index only), never reading the finished history.
    """
    counts: dict[str, dict[int, int]] = {state.value: {} for state in LIVE_STATES}
    rows = (
        Transaction.objects.filter(flow_id__in=flow_ids, state__in=LIVE_STATES)
        .values_list("state", "flow_id")
        .annotate(n=Count("*"))
        .order_by()
    )
    for state, flow_id, n in rows:
        counts[state][flow_id] = n
    return counts


def _sla(now: datetime) -> dict[str, int]:
    open_by_state = dict(
        SlaBreach.objects.filter(
            state__in=(SlaState.AT_RISK, SlaState.BREACHED), met_at__isnull=True
        )
        .values_list("state")
        .annotate(n=Count("*"))
        .order_by()
    )
    return {
        "at_risk": open_by_state.get(SlaState.AT_RISK, 0),
        "breached": open_by_state.get(SlaState.BREACHED, 0),
        "breached_last_24h": SlaBreach.objects.filter(
            breached_at__gte=now - timedelta(hours=24)
        ).count(),
    }


def money_by_currency(amounts: dict[str, Decimal]) -> list[dict[str, Any]]:
    """Amounts per currency as the pages list them: by currency, the zero ones left out."""
    return [
        {"currency": currency, "amount": amount}
        for currency, amount in sorted(amounts.items())
        if amount
    ]


def _open_exceptions(now: datetime) -> dict[str, Any]:
    age = Case(
        *(
            When(created_at__lte=now - bucket.older_than, then=Value(bucket.key))
            for bucket in reversed(AGE_BUCKETS)
        ),
        default=Value(AGE_BUCKETS[0].key),
        output_field=CharField(),
    )
    rows = (
        BusinessException.objects.filter(status__in=OPEN_STATUSES)
        .annotate(age=age)
        .values_list("exception_type", "team_id", "team__name", "currency", "age")
        .annotate(n=Count("*"), money=Sum("money_at_risk"))
        .order_by()
    )

    def group() -> dict[Any, dict[str, Any]]:
        return defaultdict(lambda: {"count": 0, "money": defaultdict(Decimal)})

    by_type, by_team, by_age = group(), group(), group()
    total = {"count": 0, "money": defaultdict(Decimal)}
    teams: dict[int | None, str] = {}
    for exception_type, team_id, team_name, currency, age_key, n, money in rows:
        teams[team_id] = team_name or "No team"
        for bucket in (by_type[exception_type], by_team[team_id], by_age[age_key], total):
            bucket["count"] += n
            if currency:
                bucket["money"][currency] += money or Decimal("0")
    labels = dict(ExceptionType.choices)
    return {
        "open": total["count"],
        "money_at_risk": money_by_currency(total["money"]),
        "by_type": sorted(
            (
                {
                    "type": key,
                    "label": labels.get(key, key),
                    "count": g["count"],
                    "money_at_risk": money_by_currency(g["money"]),
                }
                for key, g in by_type.items()
            ),
            key=lambda row: -row["count"],
        ),
        "by_team": sorted(
            (
                {
                    "team_id": key,
                    "team": teams[key],
                    "count": g["count"],
                    "money_at_risk": money_by_currency(g["money"]),
                }
                for key, g in by_team.items()
            ),
            key=lambda row: -row["count"],
        ),
        "by_age": [
            {
                "age": bucket.key,
                "label": bucket.label,
                "count": by_age[bucket.key]["count"],
                "money_at_risk": money_by_currency(by_age[bucket.key]["money"]),
            }
            for bucket in AGE_BUCKETS
        ],
    }


def _project_setup(now: datetime) -> dict[str, Any]:
    """Contract signed to project ready in the ERP and the PSA, in business hours, over the
    projects made ready in the last week (the measure of the same name)."""
    hours, _ = measure_calendar()
    setup = project_setup_cycle(window=measure_window(key="7d", now=now), hours=hours)
    return {
        "average_business_hours": setup["average_hours"],
        "count": setup["count"],
        "window_days": 7,
    }


def _approved_time_to_invoice(now: datetime) -> dict[str, Any]:
    """From time approved to its invoice posted in the ERP, over invoices posted lately."""
    # Entries of the month's posted invoices, found from the invoices' status and posting
    # index and then by invoice id; joined the other way round it reads every time entry.
    posted = Q(status__in=POSTED_INVOICE_STATUSES, posted_at__gte=now - INVOICE_LATENCY_WINDOW)
    approved = Coalesce("approved_at", "created_at")
    waited = Expr(F("invoice__posted_at") - approved, output_field=DurationField())
    totals = TimeEntry.objects.filter(
        # The condition on the joined invoice too, so the planner expects few rows.
        Q(invoice_id__in=Invoice.objects.filter(posted).values("pk")),
        invoice__status__in=POSTED_INVOICE_STATUSES,
        invoice__posted_at__gte=now - INVOICE_LATENCY_WINDOW,
    ).aggregate(n=Count("*"), waited=Sum(waited))
    n = totals["n"]
    return {
        "average_seconds": totals["waited"].total_seconds() / n if n else None,
        "count": n,
        "window_days": INVOICE_LATENCY_WINDOW.days,
    }


def _unbilled() -> dict[str, Any]:
    rows = (
        InvoiceLine.objects.filter(
            invoice__status__in=UNBILLED_INVOICE_STATUSES, time_entry__isnull=False
        )
        .values_list("invoice__currency")
        .annotate(entries=Count("*"), hours=Sum("quantity"), value=Sum("amount"))
        .order_by()
    )
    hours, entries, value = Decimal("0"), 0, {}
    for currency, n, currency_hours, amount in rows:
        entries += n
        hours += currency_hours
        value[currency] = amount
    return {"entries": entries, "hours": hours, "value": money_by_currency(value)}


def _awaiting_approval() -> dict[str, Any]:
    rows = (
        Invoice.objects.filter(status=InvoiceStatus.AWAITING_APPROVAL)
        .values_list("currency")
        .annotate(n=Count("*"), amount=Sum("amount"))
        .order_by()
    )
    count, amounts = 0, {}
    for currency, n, amount in rows:
        count += n
        amounts[currency] = amount
    return {"count": count, "amount": money_by_currency(amounts)}


def throughput_by_day(
    *, days: int = 7, now: datetime | None = None, tz: tzinfo | None = None
) -> dict[str, Any]:
    """What each flow did per calendar day in ``tz``, today included (so far), from the
    hourly roll-ups: the flows, and at most ``days`` * 24 hour buckets of each.

    Keys: ``days`` (the dates, oldest first), ``start`` (the first day's midnight),
    ``series`` (per flow kind, each counter per day), ``flows`` (per flow kind, the
    window's counts with success rate and average latency, as in ``overview_figures``)
    and ``totals`` (the same over all flows). An hour belongs to the day it starts in.
    """
    now = now or timezone.now()
    tz = tz or timezone.get_current_timezone()
    today = now.astimezone(tz).date()
    dates = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    start = datetime.combine(dates[0], datetime.min.time(), tzinfo=tz)
    index = {day: i for i, day in enumerate(dates)}
    kinds = list(Flow.objects.order_by("kind").values_list("kind", flat=True))
    names = (*COUNTERS, "latency_us")
    series = {kind: {c: [0] * days for c in names} for kind in kinds}
    rows = FlowRollup.objects.filter(
        span=RollupSpan.HOUR, bucket__gte=start, bucket__lte=bucket_start(now, RollupSpan.HOUR)
    ).values_list("flow__kind", "bucket", *names)
    for kind, bucket, *values in rows.order_by():
        i = index.get(bucket.astimezone(tz).date())
        if i is None or kind not in series:
            continue
        for name, value in zip(names, values, strict=True):
            series[kind][name][i] += value
    flows = {kind: {c: sum(counts[c]) for c in names} for kind, counts in series.items()}
    return {
        "days": dates,
        "start": start,
        "series": {kind: {c: counts[c] for c in COUNTERS} for kind, counts in series.items()},
        "flows": {kind: _with_rates(counts) for kind, counts in flows.items()},
        "totals": _totals(flows.values()),
    }
