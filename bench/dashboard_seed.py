"""The history the dashboard case times the pages on, seeded the way a tower fills at a steady rate.

Two steps: the last 7 days (``seed_recent``: today's live queues, the open exception
backlog and its SLA breaches, this month's open invoices and last month's posted ones),
then the history before that (``seed_history``: finished transactions, closed exceptions,
paid invoices). ``seed_settle`` rebuilds the roll-ups and analyzes the tables after each;
``seed_delete`` takes everything away again.

Rows go in with COPY on PostgreSQL (multi-row inserts elsewhere), into id ranges
reserved for the run, so that they are found again and deleted by range.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, connection, models, transaction
from django.utils import timezone

from bench.base import Report
from bench.rows import Table, insert_rows, reserve_ids
from canonical.choices import (
    BillingModel,
    ContractStatus,
    InvoiceStatus,
    ProjectStatus,
    TimeEntryStatus,
)
from canonical.models import (
    Contract,
    Customer,
    Invoice,
    InvoiceLine,
    Project,
    Resource,
    TimeEntry,
)
from controltower.operations.choices import SlaKind, SlaState
from controltower.operations.models import BusinessException, SlaBreach, SlaPolicy, Team
from integrations.choices import (
    AttemptOutcome,
    ErrorClass,
    ExceptionStatus,
    ExceptionType,
    FlowKind,
    Outcome,
    Severity,
    SyncOutcome,
    TransactionState,
)
from integrations.flows.catalog import FLOW_SLA_SECONDS
from integrations.models import (
    Attempt,
    ConnectedSystem,
    ExceptionRecord,
    Flow,
    FlowRollup,
    SyncState,
    Transaction,
)
from integrations.services.rollups import rollups_rebuild

RECENT = dt.timedelta(days=7)
CHUNK = 20_000  # rows generated and written per statement
PROJECTS = 200
LINES_PER_INVOICE = 10

# Flows by share of the traffic (of 20), with the event each sends and its sender.
FLOW_MIX = (
    (FlowKind.MASTER_DATA_SYNC, 8, "customer.upserted", "crm"),
    (FlowKind.TIME_TO_BILLING, 7, "time_entry.approved", "psa"),
    (FlowKind.PROJECT_TO_STAFFING, 2, "assignment.upserted", "psa"),
    (FlowKind.CONTRACT_TO_PROJECT, 1, "contract.signed", "clm"),
    (FlowKind.AMENDMENT_PROPAGATION, 1, "contract.amended", "clm"),
    (FlowKind.RECONCILIATION, 1, "reconciliation.run", None),
)
FLOW_CYCLE = [entry for entry in FLOW_MIX for _ in range(entry[1])]
# States per 1,000 transactions: the last 7 days hold today's queues; history is finished.
RECENT_STATES = (
    (TransactionState.RECEIVED, 5),
    (TransactionState.PROCESSING, 2),
    (TransactionState.RETRY_SCHEDULED, 10),
    (TransactionState.DEAD, 10),
    (TransactionState.BLOCKED, 20),
    (TransactionState.AWAITING_APPROVAL, 3),
    (TransactionState.CANCELLED, 20),
    (TransactionState.REJECTED, 20),
    (TransactionState.SUCCEEDED, 910),
)
HISTORY_STATES = (
    (TransactionState.CANCELLED, 15),
    (TransactionState.REJECTED, 15),
    (TransactionState.SUCCEEDED, 970),
)
RECENT_EXCEPTION_STATUSES = (
    (ExceptionStatus.OPEN, 40),
    (ExceptionStatus.IN_PROGRESS, 10),
    (ExceptionStatus.RESOLVED, 45),
    (ExceptionStatus.DISMISSED, 5),
)
HISTORY_EXCEPTION_STATUSES = ((ExceptionStatus.RESOLVED, 90), (ExceptionStatus.DISMISSED, 10))
TEAMS = ("Billing operations", "Integration support", "Finance", "Master data")
CURRENCIES = ("USD", "EUR", "GBP")


class DashboardBenchError(Exception):
    """The run could not be completed; the message says why."""


@dataclass(frozen=True)
class DashboardOptions:
    """How much history to seed, how often to time each page, and whether the rows stay."""

    transactions: int = 1_000_000
    exceptions: int = 100_000
    baseline: int = 10_000
    runs: int = 30
    keep: bool = False


def _pick(mix: tuple[tuple[Any, int], ...]) -> list[Any]:
    """A draw table: each choice as many times as its weight."""
    return [choice for choice, weight in mix for _ in range(weight)]


@dataclass
class Seed:
    """What the run wrote, to find it again and to delete it."""

    run_id: str
    now: dt.datetime
    options: DashboardOptions
    flows: dict[str, int] = field(default_factory=dict)
    systems: dict[str, int] = field(default_factory=dict)
    tx_first: int = 0
    exc_first: int = 0
    invoice_first: int = 0
    entry_first: int = 0
    team_ids: list[int] = field(default_factory=list)
    policy_ids: list[int] = field(default_factory=list)
    project_ids: list[int] = field(default_factory=list)
    contract_ids: list[int] = field(default_factory=list)
    currencies: dict[int, str] = field(default_factory=dict)  # per project
    customers: dict[int, tuple[int, int]] = field(default_factory=dict)  # per project
    resource_id: int = 0
    user_id: int = 0
    invoices: int = 0
    entries: int = 0

    @property
    def recent_exceptions(self) -> int:
        o = self.options
        return max(1, o.exceptions * o.baseline // o.transactions)

    @property
    def history_span(self) -> dt.timedelta:
        o = self.options
        return RECENT * (o.transactions / o.baseline)

    @property
    def earliest(self) -> dt.datetime:
        return self.now - self.history_span - dt.timedelta(hours=1)


def seed_prepare(options: DashboardOptions, report: Report) -> Seed:
    """Teams, SLA policies and projects for the run, and the id ranges it will fill."""
    run_id = f"dash-{uuid.uuid4().hex[:8]}"
    seed = Seed(run_id=run_id, now=timezone.now(), options=options)
    seed.flows = dict(Flow.objects.values_list("kind", "pk"))
    seed.systems = dict(ConnectedSystem.objects.values_list("slug", "pk"))
    missing = [kind for kind, *_ in FLOW_MIX if kind not in seed.flows]
    missing += [slug for *_, slug in FLOW_MIX if slug and slug not in seed.systems]
    customers = list(Customer.objects.select_related("legal_entity").order_by("number")[:5])
    resource = Resource.objects.order_by("employee_number").first()
    if missing or not customers or resource is None:
        raise DashboardBenchError(
            "The demo configuration is missing (flows, systems, customers or a resource); "
            "run `manage.py load_demo` first."
        )
    with transaction.atomic():
        teams = [Team.objects.create(name=f"{name} ({run_id})") for name in TEAMS]
        seed.team_ids = [team.pk for team in teams]
        user = get_user_model().objects.create_user(username=f"{run_id}-operator")
        user.groups.add(Group.objects.get(name="operator"))
        teams[0].members.add(user)
        seed.user_id = user.pk
        seed.policy_ids = [
            SlaPolicy.objects.create(
                name=f"Exceptions resolved in a day ({run_id})",
                kind=SlaKind.EXCEPTION,
                target_minutes=24 * 60,
            ).pk
        ]
        projects = Project.objects.bulk_create(
            Project(
                code=f"{run_id}-P{n:03d}".upper(),
                name=f"Bench project {n}",
                customer=customers[n % len(customers)],
                legal_entity=customers[n % len(customers)].legal_entity,
                status=ProjectStatus.ACTIVE,
                start_date=dt.date(2020, 1, 1),
                source_system="bench",
            )
            for n in range(PROJECTS)
        )
        seed.project_ids = [p.pk for p in projects]
        _projects_set_up(seed, projects)
        seed.tx_first = reserve_ids(Transaction, options.transactions)
        seed.exc_first = reserve_ids(ExceptionRecord, options.exceptions)
        months = int(seed.history_span / dt.timedelta(days=30)) + 2
        seed.invoices = PROJECTS * months
        seed.entries = seed.invoices * LINES_PER_INVOICE
        seed.invoice_first = reserve_ids(Invoice, seed.invoices)
        seed.entry_first = reserve_ids(TimeEntry, seed.entries)
    seed.resource_id = resource.pk
    seed.currencies = {p.pk: p.customer.currency for p in projects}
    seed.customers = {p.pk: (p.customer_id, p.legal_entity_id) for p in projects}
    report(f"Seeding run {run_id} ...")
    return seed


def _projects_set_up(seed: Seed, projects: list[Project]) -> None:
    """Each project's signed contract and its copies in the ERP and the PSA, set up over the
    recent window: what the project-setup cycle time measures."""
    contracts = Contract.objects.bulk_create(
        Contract(
            number=f"{project.code}-K",
            customer=project.customer,
            legal_entity=project.legal_entity,
            currency=project.customer.currency,
            billing_model=BillingModel.TIME_AND_MATERIALS,
            start_date=dt.date(2020, 1, 1),
            status=ContractStatus.SIGNED,
            signed_at=seed.now - RECENT + RECENT * n / len(projects),
            source_system="bench",
        )
        for n, project in enumerate(projects)
    )
    seed.contract_ids = [c.pk for c in contracts]
    for project, contract in zip(projects, contracts, strict=True):
        project.contract = contract
    Project.objects.bulk_update(projects, ["contract"])
    project_type = ContentType.objects.get_for_model(Project)
    systems = ConnectedSystem.objects.filter(slug__in=("erp", "psa"))
    SyncState.objects.bulk_create(
        SyncState(
            content_type=project_type,
            object_id=project.pk,
            system=system,
            external_id=f"{project.code}-{system.slug}",
            synced_at=contract.signed_at + dt.timedelta(hours=2),
            outcome=SyncOutcome.SYNCED,
        )
        for project, contract in zip(projects, contracts, strict=True)
        for system in systems
    )


def _transactions(
    seed: Seed, *, first_id: int, count: int, start: dt.datetime, end: dt.datetime, recent: bool
) -> Iterator[tuple[list[tuple], list[tuple]]]:
    """Chunks of (transaction rows, attempt rows), oldest first, ids growing with time."""
    rng = random.Random(f"{seed.run_id}-{first_id}")
    tx_table, attempt_table = Table(Transaction), Table(Attempt, with_id=False)
    flows = FLOW_CYCLE
    states = _pick(RECENT_STATES if recent else HISTORY_STATES)
    step = (end - start) / max(count, 1)
    run = seed.run_id
    txs: list[tuple] = []
    attempts: list[tuple] = []
    for i in range(count):
        pk = first_id + i
        kind, _, event_type, sender = flows[pk % len(flows)]
        state = states[rng.randrange(len(states))]
        received = start + step * i
        key = f"{run}-{pk}"
        business_key = business_key_of(pk)
        body = (
            f'{{"type":"{event_type}","id":"{key}","version":1,'
            f'"data":{{"number":"{business_key}","source":"{run}"}}}}'
        )
        values: dict[str, Any] = {
            "id": pk,
            "flow_id": seed.flows[kind],
            "source_system_id": seed.systems.get(sender) if sender else None,
            "event_type": event_type,
            "business_key": business_key,
            "external_id": business_key,
            "idempotency_key": key if sender else None,
            "event_version": 1,
            "correlation_id": f"{run}-{pk // 20}",
            "payload": body,
            "normalized": body,
            "state": state,
            "received_at": received,
            "enqueued_at": received,
            "updated_at": received,
            "sla_due_at": received + dt.timedelta(seconds=FLOW_SLA_SECONDS[kind]),
        }
        took = dt.timedelta(milliseconds=rng.randint(80, 4_000))
        if kind == FlowKind.CONTRACT_TO_PROJECT:
            took += dt.timedelta(minutes=rng.randint(1, 90))
        finished = received + took
        tries: list[tuple[str, str]] = []  # (attempt outcome, error class)
        if state == TransactionState.SUCCEEDED:
            if rng.random() < 0.03:
                tries.append((AttemptOutcome.RETRY, ErrorClass.TRANSIENT))
            tries.append((AttemptOutcome.SUCCEEDED, ""))
            values.update(outcome=Outcome.APPLIED, finished_at=finished, updated_at=finished)
        elif state == TransactionState.DEAD:
            tries += [(AttemptOutcome.RETRY, ErrorClass.TRANSIENT)] * 4
            tries.append((AttemptOutcome.DEAD, ErrorClass.TRANSIENT))
            values.update(
                finished_at=finished,
                updated_at=finished,
                error_class=ErrorClass.TRANSIENT,
                last_error="ERP answered 503 Service Unavailable",
            )
        elif state == TransactionState.BLOCKED:
            tries.append((AttemptOutcome.BLOCKED, ErrorClass.DATA))
            values.update(
                finished_at=finished,
                updated_at=finished,
                error_class=ErrorClass.DATA,
                error_code=ExceptionType.MISSING_RATE_CARD,
                last_error="No rate for the role on the project's rate card.",
            )
        elif state == TransactionState.RETRY_SCHEDULED:
            tries.append((AttemptOutcome.RETRY, ErrorClass.TRANSIENT))
            values.update(
                next_attempt_at=seed.now + dt.timedelta(seconds=rng.randint(5, 600)),
                error_class=ErrorClass.TRANSIENT,
                last_error="ERP timed out",
            )
        elif state == TransactionState.PROCESSING:
            values.update(claimed_at=seed.now - dt.timedelta(seconds=rng.randint(1, 30)))
        elif state in (TransactionState.CANCELLED, TransactionState.AWAITING_APPROVAL):
            values.update(finished_at=finished if state == TransactionState.CANCELLED else None)
        elif state == TransactionState.REJECTED:
            values.update(
                flow_id=None,
                idempotency_key=key,
                raw_body=body,
                payload=None,
                normalized=None,
                error_class=ErrorClass.DATA,
                last_error="data.currency: 'XXX' is not one of ['USD', 'EUR', 'GBP']",
                finished_at=received,
                sla_due_at=None,
            )
        values["attempts_count"] = len(tries)
        txs.append(tx_table.row(**values))
        at = received
        for number, (outcome, error_class) in enumerate(tries, start=1):
            duration = rng.randint(20, 900)
            attempts.append(
                attempt_table.row(
                    transaction_id=pk,
                    number=number,
                    started_at=at,
                    duration_ms=duration,
                    outcome=outcome,
                    error_class=error_class,
                    error_message="ERP timed out" if error_class else "",
                    worker="bench",
                )
            )
            at += dt.timedelta(milliseconds=duration)
        if len(txs) >= CHUNK:
            yield txs, attempts
            txs, attempts = [], []
    if txs:
        yield txs, attempts


def business_key_of(transaction_id: int) -> str:
    """A seeded transaction's business key: its flow's initials and its id."""
    kind = FLOW_CYCLE[transaction_id % len(FLOW_CYCLE)][0]
    return f"{kind[:3].upper()}-{transaction_id}"


def _exceptions(
    seed: Seed, *, first_id: int, count: int, start: dt.datetime, end: dt.datetime, recent: bool
) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """Exception rows, oldest first (the engine's record and the operations layer's
    extension of it), and the SLA breach rows of the recent ones."""
    rng = random.Random(f"{seed.run_id}-exceptions-{first_id}")
    table, breaches = Table(ExceptionRecord), Table(SlaBreach, with_id=False)
    cases = Table(BusinessException)
    types = [t for t in ExceptionType]
    statuses = _pick(RECENT_EXCEPTION_STATUSES if recent else HISTORY_EXCEPTION_STATUSES)
    teams = [*seed.team_ids, None]
    step = (end - start) / max(count, 1)
    rows: list[tuple] = []
    case_rows: list[tuple] = []
    breach_rows: list[tuple] = []
    for i in range(count):
        pk = first_id + i
        created = start + step * i
        status = statuses[rng.randrange(len(statuses))]
        closed = status in (ExceptionStatus.RESOLVED, ExceptionStatus.DISMISSED)
        exception_type = types[pk % len(types)]
        flow, business_key, details = FlowKind.TIME_TO_BILLING, f"P-{pk}", "{}"
        if exception_type == ExceptionType.RECONCILIATION_DRIFT:
            # Found by the reconciliation run before it, as the reconciliation page reads.
            run_id, created = _run_before(seed, created, recent=recent)
            flow, business_key = FlowKind.RECONCILIATION, business_key_of(run_id)
            details = json.dumps(
                {
                    "kind": "unbilled_time",
                    "project": f"{seed.run_id}-P{pk % PROJECTS:03d}".upper(),
                    "hours": str(rng.randint(1, 80)),
                    "period_start": created.date().replace(day=1).isoformat(),
                }
            )
        due = created + dt.timedelta(days=1)
        rows.append(
            table.row(
                id=pk,
                exception_type=exception_type,
                severity=Severity.HIGH if pk % 3 == 0 else Severity.MEDIUM,
                status=status,
                flow=flow,
                message=f"{exception_type} on {seed.run_id}-{pk}",
                details=details,
                fingerprint=f"{exception_type}|{seed.run_id}|{pk}",
                business_key=business_key,
                money_at_risk=Decimal(rng.randint(0, 5_000_000)) / 100,
                currency=CURRENCIES[pk % len(CURRENCIES)],
                created_at=created,
                updated_at=created,
                resolved_at=created + dt.timedelta(hours=rng.randint(1, 72)) if closed else None,
                resolution="Fixed at the source." if closed else "",
            )
        )
        case_rows.append(
            cases.row(exceptionrecord_ptr_id=pk, team_id=teams[pk % len(teams)], sla_due_at=due)
        )
        resolved = rows[-1][table.index("resolved_at")]
        at_risk_at = created + dt.timedelta(hours=18)
        if closed:
            # Some closed items had a breach row: met in time, or breached and closed late.
            if rng.random() >= 0.1:
                continue
            late = resolved > due
            state = SlaState.BREACHED if late else SlaState.MET
            met_at = resolved
        elif at_risk_at <= seed.now:
            late = due <= seed.now
            state = SlaState.BREACHED if late else SlaState.AT_RISK
            met_at = None
        else:
            continue
        breach_rows.append(
            breaches.row(
                policy_id=seed.policy_ids[0],
                exception_id=pk,
                state=state,
                started_at=created,
                due_at=due,
                at_risk_at=at_risk_at,
                breached_at=due if late else None,
                met_at=met_at,
            )
        )
    return rows, case_rows, breach_rows


def _run_before(seed: Seed, at: dt.datetime, *, recent: bool) -> tuple[int, dt.datetime]:
    """The seeded reconciliation run received last before ``at`` (transactions are laid out
    evenly over their window, ids growing with time), and a moment a second after it began."""
    o = seed.options
    if recent:
        first, count, start = (
            seed.tx_first + o.transactions - o.baseline,
            o.baseline,
            seed.now - RECENT,
        )
        span = RECENT
    else:
        first, count, start = (
            seed.tx_first,
            o.transactions - o.baseline,
            seed.now - seed.history_span,
        )
        span = seed.history_span - RECENT
    step = span / max(count, 1)
    pk = first + min(count - 1, max(0, int((at - start) / step)))
    while FLOW_CYCLE[pk % len(FLOW_CYCLE)][0] != FlowKind.RECONCILIATION and pk > first:
        pk -= 1
    return pk, start + step * (pk - first) + dt.timedelta(seconds=1)


def _billing(
    seed: Seed, *, months: range, first_invoice: int, first_entry: int
) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """Invoices (one per project and month), their time entries and lines.

    Month 0 (this month) is open; month 1 was posted within the last 30 days; older
    months are paid.
    """
    rng = random.Random(f"{seed.run_id}-billing-{first_invoice}")
    invoice_table, entry_table = Table(Invoice), Table(TimeEntry)
    line_table = Table(InvoiceLine, with_id=False)
    open_statuses = _pick(
        (
            (InvoiceStatus.CANDIDATE, 3),
            (InvoiceStatus.AWAITING_APPROVAL, 5),
            (InvoiceStatus.APPROVED, 2),
        )
    )
    this_month = seed.now.date().replace(day=1)
    invoices, entries, lines = [], [], []
    invoice_id, entry_id = first_invoice, first_entry
    for month in months:
        period_start = _months_before(this_month, month)
        period_end = _months_before(this_month, month - 1) - dt.timedelta(days=1)
        if month == 0:
            posted = None
        elif month == 1:
            posted = seed.now - dt.timedelta(days=rng.randint(1, 25))
        else:
            posted = dt.datetime.combine(
                period_end + dt.timedelta(days=5), dt.time(12), tzinfo=dt.UTC
            )
        for project_index, project_id in enumerate(seed.project_ids):
            status = (
                open_statuses[(project_index + month) % len(open_statuses)]
                if month == 0
                else InvoiceStatus.POSTED
                if month == 1
                else InvoiceStatus.PAID
            )
            customer_id, legal_entity_id = seed.customers[project_id]
            number = f"{seed.run_id}-INV-{project_index:03d}-{month:03d}".upper()
            total = Decimal("0")
            approved = dt.datetime.combine(period_start, dt.time(17), tzinfo=dt.UTC)
            for n in range(LINES_PER_INVOICE):
                hours = Decimal(rng.randint(2, 16)) / 2
                rate = Decimal(150 + 25 * (n % 4))
                amount = hours * rate
                total += amount
                work_date = period_start + dt.timedelta(days=n)
                entries.append(
                    entry_table.row(
                        id=entry_id,
                        number=f"{seed.run_id}-T{entry_id}".upper(),
                        project_id=project_id,
                        resource_id=seed.resource_id,
                        work_date=work_date,
                        hours=hours,
                        billable=True,
                        status=TimeEntryStatus.APPROVED,
                        approved_at=approved + dt.timedelta(days=n),
                        invoice_id=invoice_id,
                        source_system="bench",
                        created_at=approved,
                        updated_at=approved,
                    )
                )
                lines.append(
                    line_table.row(
                        invoice_id=invoice_id,
                        time_entry_id=entry_id,
                        description=f"{work_date} Grace Hopper (Manager)",
                        quantity=hours,
                        rate=rate,
                        amount=amount,
                    )
                )
                entry_id += 1
            invoices.append(
                invoice_table.row(
                    id=invoice_id,
                    number=number,
                    project_id=project_id,
                    customer_id=customer_id,
                    legal_entity_id=legal_entity_id,
                    period_start=period_start,
                    period_end=period_end,
                    currency=seed.currencies[project_id],
                    amount=total,
                    status=status,
                    erp_number=f"INV{invoice_id}" if posted else "",
                    posted_at=posted,
                    paid_at=posted + dt.timedelta(days=20) if month > 1 else None,
                    source_system="tower",
                    created_at=approved,
                    updated_at=posted or approved,
                )
            )
            invoice_id += 1
    return invoices, entries, lines


def _months_before(first_of_month: dt.date, months: int) -> dt.date:
    index = first_of_month.year * 12 + first_of_month.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)


def seed_recent(seed: Seed, report: Report) -> float:
    """The last 7 days: today's queues, the open backlog, this month's and last month's invoices."""
    o = seed.options
    started = time.perf_counter()
    with transaction.atomic():
        written = _write_transactions(
            seed,
            first_id=seed.tx_first + o.transactions - o.baseline,
            count=o.baseline,
            start=seed.now - RECENT,
            end=seed.now,
            recent=True,
        )
        exceptions, cases, breaches = _exceptions(
            seed,
            first_id=seed.exc_first + o.exceptions - seed.recent_exceptions,
            count=seed.recent_exceptions,
            start=seed.now - RECENT,
            end=seed.now,
            recent=True,
        )
        insert_rows(Table(ExceptionRecord), exceptions)
        insert_rows(Table(BusinessException), cases)
        insert_rows(Table(SlaBreach, with_id=False), breaches)
        _write_billing(seed, months=range(0, 2), offset=0)
    report(f"  the last 7 days: {written:,} transactions, {len(exceptions):,} exceptions")
    return time.perf_counter() - started


def seed_history(seed: Seed, report: Report) -> float:
    """Everything before the last 7 days, at the same rate: finished work and closed exceptions."""
    o = seed.options
    started = time.perf_counter()
    history_start = seed.now - seed.history_span
    with transaction.atomic():
        written = _write_transactions(
            seed,
            first_id=seed.tx_first,
            count=o.transactions - o.baseline,
            start=history_start,
            end=seed.now - RECENT,
            recent=False,
            report=report,
        )
        exceptions, cases, breaches = _exceptions(
            seed,
            first_id=seed.exc_first,
            count=o.exceptions - seed.recent_exceptions,
            start=history_start,
            end=seed.now - RECENT,
            recent=False,
        )
        insert_rows(Table(ExceptionRecord), exceptions)
        insert_rows(Table(BusinessException), cases)
        insert_rows(Table(SlaBreach, with_id=False), breaches)
        months = seed.invoices // PROJECTS
        _write_billing(seed, months=range(2, months), offset=2)
    report(f"  history: {written:,} transactions, {len(exceptions):,} exceptions")
    return time.perf_counter() - started


def _write_transactions(seed: Seed, *, report: Report | None = None, **kwargs: Any) -> int:
    written = 0
    tx_table, attempt_table = Table(Transaction), Table(Attempt, with_id=False)
    next_report = time.perf_counter() + 10
    for txs, attempts in _transactions(seed, **kwargs):
        written += insert_rows(tx_table, txs)
        insert_rows(attempt_table, attempts)
        if report and time.perf_counter() >= next_report:
            report(f"  ... {written:,} of {kwargs['count']:,} transactions")
            next_report = time.perf_counter() + 10
    return written


def _write_billing(seed: Seed, *, months: range, offset: int) -> None:
    invoices, entries, lines = _billing(
        seed,
        months=months,
        first_invoice=seed.invoice_first + offset * PROJECTS,
        first_entry=seed.entry_first + offset * PROJECTS * LINES_PER_INVOICE,
    )
    insert_rows(Table(Invoice), invoices)
    insert_rows(Table(TimeEntry), entries)
    insert_rows(Table(InvoiceLine, with_id=False), lines)


def seed_settle(seed: Seed, *, since: dt.datetime) -> float:
    """Roll-ups rebuilt from the rows, statistics and visibility maps brought up to date."""
    started = time.perf_counter()
    rollups_rebuild(since=since)
    _vacuum_analyze()
    _checkpoint()
    return time.perf_counter() - started


def _checkpoint() -> None:
    """Writes out what the seed dirtied now, so that the timings do not share the disk with it."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
    except DatabaseError:  # only a superuser or pg_checkpoint may; the timings are then noisier
        pass


SEEDED_MODELS = (
    Transaction,
    Attempt,
    ExceptionRecord,
    BusinessException,
    SlaBreach,
    Invoice,
    InvoiceLine,
    TimeEntry,
)


def _vacuum_analyze() -> None:
    with connection.cursor() as cursor:
        for model in (*SEEDED_MODELS, FlowRollup, Project):
            table = connection.ops.quote_name(model._meta.db_table)
            if connection.vendor == "postgresql" and not connection.in_atomic_block:
                # Index-only counts need the visibility map that VACUUM writes.
                cursor.execute(f"VACUUM (ANALYZE) {table}")
            else:
                cursor.execute(f"ANALYZE {table}")


def seed_delete(seed: Seed, report: Report) -> float:
    """Deletes everything the run wrote, then rebuilds the roll-ups of the period."""
    started = time.perf_counter()
    o = seed.options
    qn = connection.ops.quote_name
    tx_last = seed.tx_first + o.transactions - 1
    exc_last = seed.exc_first + o.exceptions - 1
    invoice_last = seed.invoice_first + seed.invoices - 1
    entry_last = seed.entry_first + seed.entries - 1

    def delete(model: type[models.Model], column: str, first: int, last: int) -> None:
        cursor.execute(
            f"DELETE FROM {qn(model._meta.db_table)} WHERE {qn(column)} BETWEEN %s AND %s",
            [first, last],
        )

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {qn(SlaBreach._meta.db_table)} WHERE policy_id IN "
            f"({', '.join(['%s'] * len(seed.policy_ids))})",
            seed.policy_ids,
        )
        delete(Attempt, "transaction_id", seed.tx_first, tx_last)
        delete(Transaction, "id", seed.tx_first, tx_last)
        delete(BusinessException, "exceptionrecord_ptr_id", seed.exc_first, exc_last)
        delete(ExceptionRecord, "id", seed.exc_first, exc_last)
        delete(InvoiceLine, "invoice_id", seed.invoice_first, invoice_last)
        delete(TimeEntry, "id", seed.entry_first, entry_last)
        delete(Invoice, "id", seed.invoice_first, invoice_last)
        SyncState.objects.filter(
            content_type=ContentType.objects.get_for_model(Project),
            object_id__in=seed.project_ids,
        ).delete()
        Project.objects.filter(pk__in=seed.project_ids).delete()
        Contract.objects.filter(pk__in=seed.contract_ids).delete()
        SlaPolicy.objects.filter(pk__in=seed.policy_ids).delete()
        Team.objects.filter(pk__in=seed.team_ids).delete()
        get_user_model().objects.filter(pk=seed.user_id).delete()
    rollups_rebuild(since=seed.earliest)
    _vacuum_analyze()
    report(f"Deleted the rows of run {seed.run_id}.")
    return time.perf_counter() - started
