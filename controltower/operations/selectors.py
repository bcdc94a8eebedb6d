"""Reads of the operations layer: the overview's figures.

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

from django.db.models import Case, CharField, Count, DurationField, F, Q, QuerySet, Sum, Value, When
from django.db.models import ExpressionWrapper as Expr
from django.db.models.functions import Coalesce
from django.utils import timezone

from canonical.choices import InvoiceStatus
from canonical.models import Invoice, InvoiceLine, TimeEntry
from controltower.operations.choices import SlaState
from controltower.operations.models import BusinessException, SlaBreach
from integrations.choices import LIVE_STATES, OPEN_STATUSES, ExceptionType, FlowKind, RollupSpan
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
    by type, team and age); ``cycle_times`` (contract to project and approved time
    to invoice, average seconds and count); ``unbilled`` (approved hours and value
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
    c2p = next((f["last_7d"] for f in per_flow if f["kind"] == FlowKind.CONTRACT_TO_PROJECT), None)
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
            "contract_to_project": {
                "average_seconds": c2p["average_latency_ms"] / 1000
                if c2p and c2p["average_latency_ms"] is not None
                else None,
                "count": c2p["succeeded"] if c2p else 0,
                "window_days": 7,
            },
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


def _money(amounts: dict[str, Decimal]) -> list[dict[str, Any]]:
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
        "money_at_risk": _money(total["money"]),
        "by_type": sorted(
            (
                {
                    "type": key,
                    "label": labels.get(key, key),
                    "count": g["count"],
                    "money_at_risk": _money(g["money"]),
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
                    "money_at_risk": _money(g["money"]),
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
                "money_at_risk": _money(by_age[bucket.key]["money"]),
            }
            for bucket in AGE_BUCKETS
        ],
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
    return {"entries": entries, "hours": hours, "value": _money(value)}


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
    return {"count": count, "amount": _money(amounts)}


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


# --- Exception queues, approvals, SLAs and reconciliation (the work pages) -----------------
#
# Reads behind the exception queues, the approvals inbox, the SLA page and the
# reconciliation report. Each is bounded by one page of rows or by open work.


@dataclass(frozen=True)
class FixLink:
    """Where the cause of an exception is fixed, in words, with the page that fixes it.

    ``url`` is empty when the fix happens in another system (a contract is signed in the
    CLM); ``hint`` then says where.
    """

    label: str
    url: str = ""
    hint: str = ""


def reverse_or_empty(name: str, *args: Any, query: dict[str, Any] | None = None) -> str:
    """The URL of ``name``, or "" while that page does not exist (another section's page)."""
    from urllib.parse import urlencode

    from django.urls import NoReverseMatch, reverse

    try:
        url = reverse(name, args=args)
    except NoReverseMatch:
        return ""
    return f"{url}?{urlencode(query)}" if query else url


# Canonical models with a record page (their sync state in every system), by its URL slug.
RECORD_PAGE_KINDS = {
    "canonical.contract": "contract",
    "canonical.project": "project",
    "canonical.resource": "resource",
    "canonical.timeentry": "time-entry",
    "canonical.invoice": "invoice",
}


def record_url(obj: Any) -> str:
    """The record page of a canonical record; for a record without one, its admin page."""
    if obj is None:
        return ""
    meta = obj._meta
    kind = RECORD_PAGE_KINDS.get(meta.label_lower)
    url = reverse_or_empty("records:detail", kind, obj.pk) if kind else ""
    return url or reverse_or_empty(f"admin:{meta.app_label}_{meta.model_name}_change", obj.pk)


def transaction_url(transaction_id: int | None) -> str:
    return reverse_or_empty("transactions:detail", transaction_id) if transaction_id else ""


def _admin_add(model_name: str, **initial: Any) -> str:
    return reverse_or_empty(f"admin:canonical_{model_name}_add", query=initial or None)


PROJECT_FIXES = {
    "project": "Open {key}",
    "erp_project": "Re-push project {key} to the ERP",
    "project_active": "Open {key} (not active on the day worked)",
    "project_hold": "Lift the billing hold on {key}",
    "project_rates": "Open {key} (no rate for the role)",
}


def exception_fix_link(exc: BusinessException) -> FixLink | None:
    """Where to fix what ``exc`` waits on, derived from ``waiting_on`` (``kind:key[:more]``).

    Missing master data opens the page that adds it, prefilled with its key; a record
    that exists but is wrong (an inactive entity, a rate card without the role) opens
    that record. Fixing it there resolves the exception and re-runs its work by itself.
    """
    from canonical.models import (
        Contract,
        Customer,
        Invoice,
        LegalEntity,
        Project,
        RateCard,
        Resource,
    )

    kind, _, rest = (exc.waiting_on or "").partition(":")
    parts = [p for p in rest.split(":") if p] if rest else []
    key = parts[0] if parts else ""
    if kind == "rate_card" and key:
        card = RateCard.objects.filter(code=key).first()
        if card is None:
            return FixLink(f"Add rate card {key}", _admin_add("ratecard", code=key))
        role = parts[1].title() if len(parts) > 1 else ""
        label = f"Add the {role} rate to rate card {key}" if role else f"Open rate card {key}"
        return FixLink(label, reverse_or_empty("admin:canonical_ratecard_change", card.pk))
    if kind == "legal_entity" and key:
        entity = LegalEntity.objects.filter(code=key).first()
        if entity is None:
            return FixLink(f"Add legal entity {key}", _admin_add("legalentity", code=key))
        return FixLink(f"Activate legal entity {key}", record_url(entity))
    if kind == "customer" and key:
        customer = Customer.objects.filter(number=key).first()
        if customer is None:
            return FixLink(f"Add customer {key}", _admin_add("customer", number=key))
        return FixLink(f"Open customer {key} (billing hold, active)", record_url(customer))
    if kind == "resource" and key:
        from integrations.adapters.harvest import RESOURCE_PREFIX

        if key.startswith(RESOURCE_PREFIX):
            user = key.removeprefix(RESOURCE_PREFIX)
            url = reverse_or_empty("records:lookup") or reverse_or_empty(
                "admin:canonical_resource_changelist"
            )
            return FixLink(
                f"Link Harvest user {user} to a resource",
                url,
                f"Find the consultant's resource by employee number and link Harvest user {user} "
                "on its page.",
            )
        resource = Resource.objects.filter(employee_number=key).first()
        if resource is None:
            return FixLink(
                f"Add resource {key}",
                _admin_add("resource", employee_number=key),
                "Resources normally arrive from the HRIS; add one by hand only if it is late.",
            )
        return FixLink(f"Activate resource {key}", record_url(resource))
    if kind == "customer_hold" and key:
        customer = Customer.objects.filter(number=key).first()
        if customer is not None:
            return FixLink(f"Lift the billing hold on customer {key}", record_url(customer))
    if kind in PROJECT_FIXES and key:
        project = Project.objects.filter(code=key).first()
        if project is None:
            return FixLink(f"Add project {key}", _admin_add("project", code=key))
        hint = (
            "Reopen it, or move its end date past the time, in the PSA; the held time then "
            "runs by itself."
            if kind == "project_active"
            else ""
        )
        return FixLink(PROJECT_FIXES[kind].format(key=key), record_url(project), hint)
    if kind == "contract_project" and key:
        contract = Contract.objects.filter(number=key).first()
        if contract is not None:
            return FixLink(
                f"Open contract {key}",
                record_url(contract),
                "Its project is created by contract-to-project; check that flow's queue.",
            )
    if kind.startswith("contract_") and key:
        contract = Contract.objects.filter(number=key).first()
        if contract is None:
            return FixLink(
                f"Wait for contract {key}",
                "",
                "The contract arrives when it is signed in the CLM; nothing to fix here.",
            )
        what = {
            "contract_cap": "its cap",
            "contract_terms": "its milestones",
            "contract_rates": "its rates",
        }.get(kind, "it")
        return FixLink(
            f"Open contract {key} to check {what}",
            record_url(contract),
            "Terms change with an amendment from the CLM.",
        )
    if kind == "assignment" and len(parts) >= 2:
        project = Project.objects.filter(code=parts[0]).first()
        resource = Resource.objects.filter(employee_number=parts[1]).first()
        initial = {k: v.pk for k, v in (("project", project), ("resource", resource)) if v}
        return FixLink(
            f"Add the assignment of {parts[1]} to {parts[0]}",
            _admin_add("assignment", **initial),
            "Assignments normally arrive from the PSA.",
        )
    if kind == "system" and key:
        return FixLink(
            f"Check the {key} connection", reverse_or_empty("systems:list"), "Its fault state."
        )
    invoice_number = (exc.details or {}).get("invoice")
    if invoice_number:
        invoice = Invoice.objects.filter(number=invoice_number).first()
        if invoice is not None:
            return FixLink(f"Open invoice {invoice_number}", record_url(invoice))
    if exc.record_id and exc.record is not None:
        return FixLink(f"Open {exc.record}", record_url(exc.record))
    return None


QUEUE_TABS = {"mine": "My queue", "team": "My team's", "all": "All"}


def exception_queue(*, user: Any, tab: str) -> QuerySet[BusinessException]:
    """The exceptions of one queue tab, with what each row shows, in one query per page."""
    queryset = BusinessException.objects.select_related(
        "team", "assignee", "customer", "legal_entity"
    )
    if tab == "mine":
        return queryset.filter(assignee=user)
    if tab == "team":
        return queryset.filter(team__in=user.teams.all())
    return queryset


def exception_queue_counts(*, user: Any) -> dict[str, int]:
    """Open, awake exceptions per queue tab: what each tab has waiting."""
    now = timezone.now()
    awake = BusinessException.objects.filter(status__in=OPEN_STATUSES).exclude(
        snoozed_until__gt=now
    )
    # One pass over the open rows for all three tabs.
    return awake.aggregate(
        mine=Count("pk", filter=Q(assignee=user)),
        team=Count("pk", filter=Q(team__in=user.teams.all())),
        all=Count("pk"),
    )


def exception_sla_states(
    exceptions: list[BusinessException], *, now: datetime | None = None
) -> dict[int, str]:
    """Per exception: ``breached`` or ``at_risk`` as the SLA sweep recorded it, or past due."""
    now = now or timezone.now()
    open_ids = [e.pk for e in exceptions if e.status in OPEN_STATUSES]
    states: dict[int, str] = {}
    rows = SlaBreach.objects.filter(exception_id__in=open_ids, met_at__isnull=True).values_list(
        "exception_id", "state"
    )
    for exception_id, state in rows:
        if states.get(exception_id) != SlaState.BREACHED:
            states[exception_id] = state
    for exc in exceptions:
        if exc.pk in open_ids and exc.sla_due_at and exc.sla_due_at <= now:
            states[exc.pk] = SlaState.BREACHED
    return states


@dataclass(frozen=True)
class DiffRow:
    """One compared value: its label, before and after, and whether it changed."""

    label: str
    before: Any
    after: Any

    @property
    def changed(self) -> bool:
        return self.before != self.after

    @property
    def kind(self) -> str:
        if self.before in (None, "") and self.after not in (None, ""):
            return "added"
        if self.after in (None, "") and self.before not in (None, ""):
            return "removed"
        return "changed" if self.changed else "same"


def _money_text(value: Any) -> str:
    if value in (None, ""):
        return ""
    try:
        return f"{Decimal(str(value)):,.2f}"
    except ArithmeticError:
        return str(value)


def _billing_model(value: Any) -> str:
    from canonical.choices import BillingModel

    return str(dict(BillingModel.choices).get(value, value or ""))


def contract_terms_diff(before: dict[str, Any] | None, after: dict[str, Any]) -> list[DiffRow]:
    """The terms an amendment changes: rates per role, dates, cap, rate card, milestones."""
    before = before or {}
    rows = [
        DiffRow("Rate card", before.get("rate_card", ""), after.get("rate_card", "")),
        DiffRow(
            "Billing model",
            _billing_model(before.get("billing_model")),
            _billing_model(after.get("billing_model")),
        ),
        DiffRow("Start date", before.get("start_date") or "", after.get("start_date") or ""),
        DiffRow("End date", before.get("end_date") or "", after.get("end_date") or ""),
        DiffRow("Cap", _money_text(before.get("cap_amount")), _money_text(after.get("cap_amount"))),
    ]
    old_rates, new_rates = before.get("rates") or {}, after.get("rates") or {}
    for role in sorted({*old_rates, *new_rates}):
        rows.append(
            DiffRow(
                f"Rate: {role}",
                _money_text(old_rates.get(role)),
                _money_text(new_rates.get(role)),
            )
        )

    def milestones(terms: dict[str, Any]) -> dict[str, str]:
        return {
            str(m.get("code")): f"{m.get('name', '')} {_money_text(m.get('amount'))}"
            + (f" due {m['due_date']}" if m.get("due_date") else "")
            for m in terms.get("milestones") or []
        }

    old_ms, new_ms = milestones(before), milestones(after)
    for code in sorted({*old_ms, *new_ms}):
        rows.append(DiffRow(f"Milestone {code}", old_ms.get(code, ""), new_ms.get(code, "")))
    return rows


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out or {prefix: {}}
    if isinstance(value, list):
        out = {}
        for index, item in enumerate(value):
            out.update(_flatten(item, f"{prefix}[{index}]"))
        return out or {prefix: []}
    return {prefix: value}


def payload_diff(before: Any, after: Any) -> list[DiffRow]:
    """The fields an edited payload changes, by path (``data.lines[0].hours``)."""
    old, new = _flatten(before or {}), _flatten(after or {})
    rows = []
    for path in [*new, *(p for p in old if p not in new)]:
        a, b = old.get(path, ""), new.get(path, "")
        if a != b:
            rows.append(DiffRow(path, "" if a is None else a, "" if b is None else b))
    return rows


def amendment_conflict_views(exceptions: list[BusinessException]) -> dict[int, dict[str, Any]]:
    """Per amendment conflict: the contract's terms in force against the amendment held back.

    Three queries for a whole page: the contracts, their versions, the held amendments.
    """
    from canonical.models import Contract, ContractVersion
    from integrations.flows.contract_to_project import terms_from

    numbers = {(e.details or {}).get("contract", "") for e in exceptions} - {""}
    contracts = {c.number: c for c in Contract.objects.filter(number__in=numbers)}
    current: dict[int, Any] = {}
    for version in ContractVersion.objects.filter(contract__in=contracts.values()).order_by(
        "version"
    ):
        current[version.contract_id] = version  # the last one wins: the version in force
    held: dict[int, Transaction] = {}
    for tx in Transaction.objects.filter(
        exception__in=exceptions, event_type="contract.amended"
    ).order_by("pk"):
        held[tx.exception_id] = tx
    views = {}
    for exc in exceptions:
        contract = contracts.get((exc.details or {}).get("contract", ""))
        version = current.get(contract.pk) if contract else None
        tx = held.get(exc.pk)
        data = ((tx.normalized or {}).get("data") or {}) if tx else {}
        proposed: dict[str, Any] | None = None
        if data:
            try:
                proposed = terms_from(data).snapshot()
            except (KeyError, TypeError, ValueError, ArithmeticError):
                proposed = None
        views[exc.pk] = {
            "contract": contract,
            "current": version,
            "held": tx,
            "effective_date": data.get("effective_date"),
            "proposed_version": tx.event_version if tx else None,
            "rows": contract_terms_diff(version.terms if version else None, proposed)
            if proposed is not None
            else [],
        }
    return views


def amendment_conflict_view(exc: BusinessException) -> dict[str, Any]:
    return amendment_conflict_views([exc])[exc.pk]


def edited_replay_views(exceptions: list[BusinessException]) -> dict[int, dict[str, Any]]:
    """Per edited replay: the original event against the edited one, in one query for a page."""
    ids = set()
    for exc in exceptions:
        details = exc.details or {}
        ids.update(pk for pk in (details.get("original"), details.get("replay")) if pk)
    found = {tx.pk: tx for tx in Transaction.objects.filter(pk__in=ids).select_related("flow")}
    views = {}
    for exc in exceptions:
        details = exc.details or {}
        original, replay = found.get(details.get("original")), found.get(details.get("replay"))
        views[exc.pk] = {
            "original": original,
            "replay": replay,
            "reason": details.get("reason", ""),
            "rows": payload_diff(
                original.normalized if original else None, replay.normalized if replay else None
            ),
        }
    return views


def edited_replay_view(exc: BusinessException) -> dict[str, Any]:
    return edited_replay_views([exc])[exc.pk]


def invoice_candidates() -> QuerySet[Invoice]:
    """Invoice candidates and those awaiting approval, with their customer, project, preparer."""
    return Invoice.objects.filter(
        status__in=(InvoiceStatus.CANDIDATE, InvoiceStatus.AWAITING_APPROVAL)
    ).select_related("customer", "project", "legal_entity", "prepared_by")


def invoice_lines_attach(invoices: list[Invoice]) -> None:
    """Fetches the lines of a page of invoices in one query, with hours and totals per invoice."""
    lines = InvoiceLine.objects.filter(invoice__in=invoices).select_related(
        "time_entry__resource", "milestone"
    )
    by_invoice: dict[int, list[InvoiceLine]] = defaultdict(list)
    for line in lines:
        by_invoice[line.invoice_id].append(line)
    for invoice in invoices:
        invoice.shown_lines = by_invoice.get(invoice.pk, [])
        invoice.hours = sum(
            (line.quantity for line in invoice.shown_lines if line.time_entry_id), Decimal("0")
        )
        invoice.lines_total = sum((line.amount for line in invoice.shown_lines), Decimal("0"))


RECONCILIATION_DRIFT = ExceptionType.RECONCILIATION_DRIFT


def reconciliation_runs() -> QuerySet[Transaction]:
    """The reconciliation runs, newest first."""
    return Transaction.objects.filter(
        flow__kind=FlowKind.RECONCILIATION, event_type="reconciliation.run"
    ).select_related("flow")


def _drift_candidates(runs: list[Transaction]) -> QuerySet[BusinessException]:
    """Drift exceptions that may belong to ``runs``: raised before the last of them ended
    and not resolved before the first of them began."""
    first = min(run.received_at for run in runs)
    ends = [run.finished_at for run in runs]
    found = BusinessException.objects.filter(exception_type=RECONCILIATION_DRIFT).filter(
        Q(resolved_at__isnull=True) | Q(resolved_at__gte=first)
    )
    if all(ends):
        found = found.filter(created_at__lte=max(ends) + timedelta(seconds=5))
    return found


def _found_by(exc: BusinessException, run: Transaction) -> bool:
    """Whether ``run`` found the drift ``exc``: every run that finds it again is listed in
    its ``seen_by``; older drifts name only the run that raised them."""
    seen_by = (exc.details or {}).get("seen_by")
    if seen_by:
        return run.pk in seen_by
    if exc.business_key != run.business_key or exc.created_at < run.received_at:
        return False
    return run.finished_at is None or exc.created_at <= run.finished_at + timedelta(seconds=5)


def _run_drifts(run: Transaction) -> QuerySet[BusinessException]:
    """The drift exceptions ``run`` found, those raised before it and found again included."""
    ids = [exc.pk for exc in _drift_candidates([run]) if _found_by(exc, run)]
    return BusinessException.objects.filter(pk__in=ids)


def reconciliation_drift_totals(runs: list[Transaction]) -> None:
    """Sets ``drift_count`` and ``drift_amounts`` on each run of a page, in one query."""
    drifts = list(_drift_candidates(runs)) if runs else []
    for run in runs:
        amounts: dict[str, Decimal] = defaultdict(Decimal)
        count = 0
        for exc in drifts:
            if _found_by(exc, run):
                count += 1
                amounts[exc.currency] += exc.money_at_risk
        run.drift_count = count
        run.drift_amounts = _money(dict(amounts))


@dataclass
class DriftRow:
    """One drift of a run, in the report's words: what differs, the tower's and the ERP's figure."""

    exception: BusinessException
    project: str
    period: Any
    what: str
    tower: str
    erp: str


def reconciliation_drift_rows(run: Transaction) -> list[DriftRow]:
    """The drifts ``run`` found, by project and period, with the tower's and the ERP's figures."""
    drifts = list(_run_drifts(run).select_related("team", "assignee").order_by("-money_at_risk"))
    numbers = {(d.details or {}).get("invoice") for d in drifts} - {None}
    invoices = {
        i.number: i for i in Invoice.objects.filter(number__in=numbers).select_related("project")
    }
    rows = []
    for exc in drifts:
        details = exc.details or {}
        invoice = invoices.get(details.get("invoice"))
        if "tower_hours" in details:
            what, tower, erp = "Hours", f"{details['tower_hours']} h", f"{details['erp_hours']} h"
        elif "tower" in details:
            what, tower, erp = "Invoice total", details["tower"], details["erp"]
        elif "erp_ids" in details:
            what = "Duplicate in the ERP"
            tower, erp = "1 invoice", f"{len(details['erp_ids'])} invoices"
        elif "erp_id" in details:
            what, tower, erp = "Not posted by the tower", "none", f"ERP invoice {details['erp_id']}"
        else:
            what, tower, erp = "Missing in the ERP", str(invoice.amount) if invoice else "", "none"
        rows.append(
            DriftRow(
                exception=exc,
                project=invoice.project.code if invoice else "",
                period=invoice.period_start if invoice else None,
                what=what,
                tower=tower,
                erp=erp,
            )
        )
    rows.sort(key=lambda r: (r.project or "~", r.period or datetime.min.date()))
    return rows
