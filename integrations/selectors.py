"""Reads of the integration engine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Count, Max, Prefetch, Q, QuerySet, Sum
from django.utils import timezone

from canonical.formats import money_text
from integrations.choices import (
    AttemptOutcome,
    FlowKind,
    RollupSpan,
    SyncOutcome,
    SystemKind,
    TransactionState,
)
from integrations.clients.erp import JOB_STATUS_CANONICAL
from integrations.models import (
    Attempt,
    ConnectedSystem,
    Flow,
    FlowRollup,
    SyncState,
    Transaction,
)


def transaction_list() -> QuerySet[Transaction]:
    return Transaction.objects.select_related("flow", "source_system", "target_system")


def transaction_detail_queryset() -> QuerySet[Transaction]:
    return transaction_list().prefetch_related("attempts")


def system_list() -> QuerySet[ConnectedSystem]:
    return ConnectedSystem.objects.all()


def flow_list() -> QuerySet[Flow]:
    return Flow.objects.all()


def sync_state_list() -> QuerySet[SyncState]:
    return SyncState.objects.select_related("system", "content_type")


def transaction_state_counts() -> dict[str, int]:
    return dict(
        Transaction.objects.values_list("state").annotate(n=Count("id")).values_list("state", "n")
    )


def target_system(kind: str) -> ConnectedSystem:
    """The enabled system of ``kind`` the tower writes to (the first by slug with a base URL)."""
    from integrations.choices import ErrorClass, ExceptionType
    from integrations.errors import IntegrationError

    system = (
        ConnectedSystem.objects.filter(kind=kind, enabled=True)
        .exclude(base_url="")
        .order_by("slug")
        .first()
    )
    if system is None:
        raise IntegrationError(
            f"No enabled {kind} system with a base URL is connected.",
            transient=False,
            error_class=ErrorClass.CONFIGURATION,
            code=ExceptionType.SYSTEM_NOT_CONFIGURED,
            waiting_on=f"system:{kind.upper()}",
        )
    return system


def sync_state_for(record, system: ConnectedSystem) -> SyncState | None:
    from django.contrib.contenttypes.models import ContentType

    return SyncState.objects.filter(
        content_type=ContentType.objects.get_for_model(record), object_id=record.pk, system=system
    ).first()


def holds_version(state: SyncState | None, record) -> bool:
    """Whether ``state`` (a record's sync state in one system) shows the system holding
    ``record`` at its current version."""
    return bool(state and state.outcome == "synced" and (state.last_version or 0) >= record.version)


def contract_lineage(contract) -> dict:
    """Everything downstream of a contract: its transactions, and each record with its sync state."""
    transactions = (
        transaction_list()
        .filter(correlation_id=contract.correlation_id)
        .order_by("received_at", "pk")
        if contract.correlation_id
        else Transaction.objects.none()
    )
    return {
        "contract": contract.number,
        "correlation_id": contract.correlation_id,
        "transactions": [
            {
                "id": tx.pk,
                "flow": tx.flow.kind if tx.flow_id else None,
                "event_type": tx.event_type,
                "business_key": tx.business_key,
                "state": tx.state,
                "outcome": tx.outcome,
                "received_at": tx.received_at,
            }
            for tx in transactions
        ],
        "records": contract_records_lineage(contract),
    }


def contract_records_lineage(contract) -> dict[str, list[dict]]:
    """The records downstream of a contract (projects, milestones, assignments, time entries,
    invoices), each with its id, version and sync state in every system."""
    from django.contrib.contenttypes.models import ContentType

    from canonical.models import Assignment, Invoice, Project, TimeEntry

    projects = list(Project.objects.filter(contract=contract))
    groups = {
        "contract": [contract],
        "projects": projects,
        "milestones": list(contract.milestones.all()),
        "assignments": list(
            Assignment.objects.filter(project__in=projects).select_related("resource")
        ),
        "time_entries": list(TimeEntry.objects.filter(project__in=projects)),
        "invoices": list(Invoice.objects.filter(project__in=projects)),
    }
    states: dict[tuple[int, int], list[SyncState]] = {}
    for group in groups.values():
        if not group:
            continue
        content_type = ContentType.objects.get_for_model(group[0])
        for state in SyncState.objects.filter(
            content_type=content_type, object_id__in=[record.pk for record in group]
        ).select_related("system"):
            states.setdefault((content_type.pk, state.object_id), []).append(state)

    def describe(record) -> dict:
        content_type = ContentType.objects.get_for_model(record)
        return {
            "type": content_type.model,
            "id": record.pk,
            "key": str(record),
            "version": getattr(record, "version", None),
            "status": getattr(record, "status", None),
            "systems": [
                {
                    "system": state.system.slug,
                    "external_id": state.external_id,
                    "version": state.last_version,
                    "behind": (record.version or 0) - (state.last_version or 0)
                    if hasattr(record, "version") and state.last_version is not None
                    else None,
                    "synced_at": state.synced_at,
                    "outcome": state.outcome,
                }
                for state in states.get((content_type.pk, record.pk), [])
            ],
        }

    return {name: [describe(record) for record in group] for name, group in groups.items()}


# The transaction explorer -------------------------------------------------------------

REPUSH_EVENT = "record.repush"
# A project changed in the PSA, to be brought to the ERP's copy.
PROPAGATE_EVENT = "project.propagate"
LINEAGE_LIMIT = 100
CHILDREN_LIMIT = 50


def transaction_explorer_list() -> QuerySet[Transaction]:
    """The explorer's rows: what its columns show, without the payload as received."""
    return transaction_list().defer("payload", "raw_body", "errors")


def transaction_page_detail(*, pk: int) -> Transaction | None:
    """One transaction with its attempts, its exception, its parent and its replays."""
    return (
        transaction_list()
        .select_related("exception", "parent")
        .prefetch_related(
            Prefetch("attempts", queryset=Attempt.objects.order_by("number")),
        )
        .filter(pk=pk)
        .first()
    )


def transaction_children(*, tx: Transaction, limit: int = CHILDREN_LIMIT) -> list[Transaction]:
    """The transactions that replay ``tx`` or that it spawned, oldest first."""
    return list(
        transaction_explorer_list().filter(parent_id=tx.pk).order_by("received_at", "pk")[:limit]
    )


@dataclass
class BusinessFields:
    """What a transaction is about in the business's words: customer, contract, project, amount."""

    customer: str = ""
    customer_name: str = ""
    contract: str = ""
    project: str = ""
    invoice: str = ""
    amount: Decimal | None = None
    currency: str = ""
    hours: Decimal | None = None

    @property
    def customer_text(self) -> str:
        return f"{self.customer} {self.customer_name}".strip()

    @property
    def amount_text(self) -> str:
        if self.amount is not None:
            return money_text(self.amount, self.currency)
        if self.hours is not None:
            return f"{self.hours.normalize():f} h"
        return ""


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _text(value: Any) -> str:
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""


def _event_data(tx: Transaction) -> dict[str, Any]:
    normalized = tx.normalized if isinstance(tx.normalized, dict) else {}
    data = normalized.get("data")
    return data if isinstance(data, dict) else {}


def _business_seed(tx: Transaction) -> BusinessFields:
    """What the normalized event itself says, without a query."""
    data = _event_data(tx)
    fields = BusinessFields()
    kind = tx.event_type
    if kind in ("contract.signed", "contract.amended"):
        fields.contract = _text(data.get("number"))
        fields.customer = _text(data.get("customer"))
        fields.amount = _decimal(data.get("cap_amount"))
        fields.currency = _text(data.get("currency"))
        project = data.get("project")
        if isinstance(project, dict):
            fields.project = _text(project.get("code"))
    elif kind == "customer.upserted":
        fields.customer = _text(data.get("number"))
        fields.customer_name = _text(data.get("name"))
    elif kind == "project.upserted":
        fields.project = _text(data.get("code"))
    elif kind in ("assignment.upserted", "time_entry.approved"):
        fields.project = _text(data.get("project"))
        if kind == "time_entry.approved":
            fields.hours = _decimal(data.get("hours"))
    elif kind == "milestone.reached":
        fields.contract = _text(data.get("contract"))
    elif kind == "invoice.approved":
        fields.invoice = _text(data.get("number"))
    elif kind == "invoice.rebuild":
        fields.project = _text(data.get("project"))
        fields.invoice = _text(data.get("rejected"))
    elif kind == PROPAGATE_EVENT:
        fields.project = _text(data.get("project"))
    elif kind == REPUSH_EVENT:
        key = _text(data.get("key"))
        if data.get("record_type") == "contract":
            fields.contract = key
        elif data.get("record_type") == "project":
            fields.project = key
    return fields


def transactions_business_fields(*, transactions: Sequence[Transaction]) -> None:
    """Gives each transaction ``business`` (a BusinessFields), for the explorer's columns.

    Read from the normalized event; what an event names only by a key (a project code,
    an invoice number) is completed from the canonical records in at most one query per
    kind of record, whatever the number of rows.
    """
    from canonical.models import Contract, Customer, Invoice, Project

    seeds = [(tx, _business_seed(tx)) for tx in transactions]
    invoices = {f.invoice for _, f in seeds if f.invoice}
    if invoices:
        found = Invoice.objects.filter(number__in=invoices).values_list(
            "number",
            "customer__number",
            "project__code",
            "project__contract__number",
            "amount",
            "currency",
        )
        by_number = {row[0]: row[1:] for row in found}
        for _, f in seeds:
            if f.invoice in by_number:
                customer, project, contract, amount, currency = by_number[f.invoice]
                f.customer = f.customer or customer
                f.project = f.project or project
                f.contract = f.contract or (contract or "")
                f.amount, f.currency = amount, currency
    projects = {f.project for _, f in seeds if f.project and not (f.contract and f.customer)}
    if projects:
        found = Project.objects.filter(code__in=projects).values_list(
            "code", "customer__number", "contract__number"
        )
        by_code = {code: (customer, contract) for code, customer, contract in found}
        for _, f in seeds:
            if f.project in by_code:
                customer, contract = by_code[f.project]
                f.customer = f.customer or customer
                f.contract = f.contract or (contract or "")
    contracts = {f.contract for _, f in seeds if f.contract and not f.customer}
    if contracts:
        by_contract = dict(
            Contract.objects.filter(number__in=contracts).values_list("number", "customer__number")
        )
        for _, f in seeds:
            if not f.customer and f.contract in by_contract:
                f.customer = by_contract[f.contract]
    customers = {f.customer for _, f in seeds if f.customer and not f.customer_name}
    if customers:
        names = dict(Customer.objects.filter(number__in=customers).values_list("number", "name"))
        for _, f in seeds:
            if not f.customer_name:
                f.customer_name = names.get(f.customer, "")
    for tx, f in seeds:
        tx.business = f


def transaction_lineage(*, tx: Transaction, limit: int = LINEAGE_LIMIT) -> dict[str, Any]:
    """Every other transaction with ``tx``'s correlation id, and the contract it belongs to
    with its downstream records and their sync state."""
    from canonical.models import Contract

    related: list[Transaction] = []
    contract = None
    if tx.correlation_id:
        related = list(
            transaction_explorer_list()
            .filter(correlation_id=tx.correlation_id)
            .exclude(pk=tx.pk)
            .order_by("received_at", "pk")[: limit + 1]
        )
        contract = (
            Contract.objects.select_related("customer")
            .filter(correlation_id=tx.correlation_id)
            .first()
        )
    return {
        "transactions": related[:limit],
        "more": len(related) > limit,
        "contract": contract,
        "records": contract_records_lineage(contract) if contract is not None else None,
    }


def transaction_record_link(*, tx: Transaction) -> tuple[str, int] | None:
    """The canonical record a transaction is about, as (record kind slug, id), if it exists."""
    kind = RECORD_KIND_OF_EVENT.get(tx.event_type)
    if kind is None or not tx.business_key:
        return None
    record_kind = RECORD_KINDS[kind]
    pk = (
        record_kind.model()
        ._default_manager.filter(**{record_kind.key_field: tx.business_key})
        .values_list("pk", flat=True)
        .first()
    )
    return (kind, pk) if pk is not None else None


# Systems and flows ----------------------------------------------------------------------

FAILED_STATES = (TransactionState.REJECTED, TransactionState.DEAD, TransactionState.BLOCKED)
QUEUE_STATES = (
    TransactionState.RECEIVED,
    TransactionState.RETRY_SCHEDULED,
    TransactionState.DEAD,
    TransactionState.BLOCKED,
)


@dataclass
class Rate:
    """Failures out of a total over a window; ``share`` is None when nothing happened."""

    failed: int = 0
    total: int = 0

    @property
    def share(self) -> float | None:
        return self.failed / self.total if self.total else None

    @property
    def percent(self) -> str:
        return share_text(self.share)


def share_text(share: float | None) -> str:
    """A share as a person reads it: 0 %, < 0.1 %, 7.5 %, 61 %."""
    if share is None:
        return "none"
    value = share * 100
    if value == 0:
        return "0 %"
    if value < 0.1:
        return "< 0.1 %"
    return f"{value:.1f} %" if value < 10 else f"{value:.0f} %"


@dataclass
class SystemHealth:
    """One connected system as the systems page shows it."""

    system: ConnectedSystem
    inbound_1h: Rate = field(default_factory=Rate)
    inbound_24h: Rate = field(default_factory=Rate)
    calls_1h: Rate = field(default_factory=Rate)
    calls_24h: Rate = field(default_factory=Rate)
    retrying: int = 0
    last_inbound_success: datetime | None = None
    last_sync: datetime | None = None

    @property
    def outbound(self) -> bool:
        return bool(self.system.base_url)

    @property
    def last_success(self) -> datetime | None:
        times = [t for t in (self.last_inbound_success, self.last_sync) if t is not None]
        return max(times) if times else None

    @property
    def rate_1h(self) -> Rate:
        return Rate(
            self.inbound_1h.failed + self.calls_1h.failed,
            self.inbound_1h.total + self.calls_1h.total,
        )

    @property
    def rate_24h(self) -> Rate:
        return Rate(
            self.inbound_24h.failed + self.calls_24h.failed,
            self.inbound_24h.total + self.calls_24h.total,
        )


def _outbound_prefix(system: ConnectedSystem) -> str:
    return system.base_url.rstrip("/") + "/"


def systems_health(*, now: datetime | None = None) -> list[SystemHealth]:
    """Each connected system's last success, error rates over 1 h and 24 h and freshness,
    in four queries bounded by the last day.

    Inbound: the events the system sent in the window (the ``received_at`` index); failed
    means rejected at the door, dead or blocked. Outbound (a system the tower calls): the
    attempts of the window that called it, failed when the call is what failed.
    Last sync: the newest sync state of the system (records held or sent).
    """
    now = now or timezone.now()
    day_ago, hour_ago = now - timedelta(hours=24), now - timedelta(hours=1)
    systems = list(ConnectedSystem.objects.order_by("slug"))
    health = {system.pk: SystemHealth(system) for system in systems}
    failed = Q(state__in=FAILED_STATES)
    recent = Q(received_at__gte=hour_ago)
    rows = (
        Transaction.objects.filter(received_at__gte=day_ago, source_system__isnull=False)
        .values_list("source_system_id")
        .annotate(
            total=Count("pk"),
            failed=Count("pk", filter=failed),
            total_1h=Count("pk", filter=recent),
            failed_1h=Count("pk", filter=recent & failed),
            retrying=Count("pk", filter=Q(state=TransactionState.RETRY_SCHEDULED)),
            last_success=Max("finished_at", filter=Q(state=TransactionState.SUCCEEDED)),
        )
        .order_by()
    )
    for system_id, total, failed_n, total_1h, failed_1h, retrying, last_success in rows:
        item = health.get(system_id)
        if item is not None:
            item.inbound_24h = Rate(failed_n, total)
            item.inbound_1h = Rate(failed_1h, total_1h)
            item.retrying = retrying
            item.last_inbound_success = last_success
    outbound = [system for system in systems if system.base_url]
    if outbound:
        counts: dict[str, Any] = {}
        for system in outbound:
            prefix = _outbound_prefix(system)
            called = Q(outbound_summary__contains=prefix)
            broke = Q(error_message__contains=prefix) & ~Q(outcome=AttemptOutcome.SUCCEEDED)
            hour = Q(started_at__gte=hour_ago)
            counts[f"calls_{system.pk}"] = Count("pk", filter=called)
            counts[f"failed_{system.pk}"] = Count("pk", filter=broke)
            counts[f"calls_1h_{system.pk}"] = Count("pk", filter=called & hour)
            counts[f"failed_1h_{system.pk}"] = Count("pk", filter=broke & hour)
        totals = Attempt.objects.filter(started_at__gte=day_ago).aggregate(**counts)
        for system in outbound:
            item = health[system.pk]
            item.calls_24h = Rate(totals[f"failed_{system.pk}"], totals[f"calls_{system.pk}"])
            item.calls_1h = Rate(totals[f"failed_1h_{system.pk}"], totals[f"calls_1h_{system.pk}"])
    for system_id, last_sync in (
        SyncState.objects.filter(outcome=SyncOutcome.SYNCED)
        .values_list("system_id")
        .annotate(last=Max("synced_at"))
        .order_by()
    ):
        if system_id in health:
            health[system_id].last_sync = last_sync
    return [health[system.pk] for system in systems]


@dataclass
class FlowHealth:
    """One flow on the systems page: paused or running, its queues and its failure rates."""

    flow: Flow
    queues: dict[str, int]
    rate_1h: Rate
    rate_24h: Rate
    succeeded_24h: int = 0

    @property
    def queued(self) -> int:
        return sum(self.queues.values())


def flows_health(*, now: datetime | None = None) -> list[FlowHealth]:
    """Each flow with its queue depths (the partial index of live states) and the share of
    failed attempts over the last hour and day (the roll-ups: 60 minute rows and 24 hour
    rows per flow, whatever the history)."""
    from integrations.services.rollups import bucket_start

    now = now or timezone.now()
    flows = list(Flow.objects.order_by("kind"))
    queues: dict[int, dict[str, int]] = {flow.pk: dict.fromkeys(QUEUE_STATES, 0) for flow in flows}
    for state, flow_id, n in (
        Transaction.objects.filter(state__in=QUEUE_STATES)
        .values_list("state", "flow_id")
        .annotate(n=Count("*"))
        .order_by()
    ):
        if flow_id in queues:
            queues[flow_id][state] = n
    windows = {
        "1h": (RollupSpan.MINUTE, bucket_start(now, RollupSpan.MINUTE) - timedelta(minutes=59)),
        "24h": (RollupSpan.HOUR, bucket_start(now, RollupSpan.HOUR) - timedelta(hours=23)),
    }
    sums: dict[str, dict[int, tuple[int, int, int, int]]] = {}
    for name, (span, first) in windows.items():
        sums[name] = {
            flow_id: (succeeded or 0, retried or 0, dead or 0, blocked or 0)
            for flow_id, succeeded, retried, dead, blocked in FlowRollup.objects.filter(
                span=span, bucket__gte=first
            )
            .values_list("flow_id")
            .annotate(Sum("succeeded"), Sum("retried"), Sum("dead"), Sum("blocked"))
            .order_by()
        }

    def rate(name: str, flow_id: int) -> Rate:
        succeeded, retried, dead, blocked = sums[name].get(flow_id, (0, 0, 0, 0))
        failures = retried + dead + blocked
        return Rate(failures, succeeded + failures)

    return [
        FlowHealth(
            flow=flow,
            queues=queues[flow.pk],
            rate_1h=rate("1h", flow.pk),
            rate_24h=rate("24h", flow.pk),
            succeeded_24h=sums["24h"].get(flow.pk, (0,))[0],
        )
        for flow in flows
    ]


# The record view -------------------------------------------------------------------------

REMOTE_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class RecordKind:
    """A kind of canonical record the record view shows, and how each system names its fields.

    ``fields`` are the canonical event's field names with their labels; ``remote`` maps a
    canonical field to its path in the ERP's or the PSA's own copy (``customer.id``), or to
    a path and the canonical value of each of that system's values (``Closed`` → ``closed``).
    """

    slug: str
    label: str
    model_path: str
    key_field: str
    flow: str
    event_type: str
    fields: tuple[tuple[str, str], ...]
    select_related: tuple[str, ...] = ()
    erp_record: str = ""
    psa_collection: str = ""
    remote: dict[str, dict[str, str | tuple[str, dict[str, str]]]] = field(default_factory=dict)
    repush: bool = False

    def model(self):
        from django.apps import apps

        return apps.get_model(self.model_path)


RECORD_KINDS: dict[str, RecordKind] = {
    kind.slug: kind
    for kind in (
        RecordKind(
            slug="contract",
            label="Contract",
            model_path="canonical.Contract",
            key_field="number",
            flow=FlowKind.CONTRACT_TO_PROJECT,
            event_type="contract.signed",
            fields=(
                ("number", "Number"),
                ("customer", "Customer"),
                ("legal_entity", "Legal entity"),
                ("currency", "Currency"),
                ("billing_model", "Billing model"),
                ("start_date", "Start date"),
                ("end_date", "End date"),
                ("rate_card", "Rate card"),
                ("cap_amount", "Cap amount"),
                ("status", "Status"),
                ("signed_at", "Signed at"),
            ),
            select_related=("customer", "legal_entity", "rate_card"),
            repush=True,
        ),
        RecordKind(
            slug="project",
            label="Project",
            model_path="canonical.Project",
            key_field="code",
            flow=FlowKind.CONTRACT_TO_PROJECT,
            event_type="contract.signed",
            fields=(
                ("code", "Code"),
                ("name", "Name"),
                ("customer", "Customer"),
                ("contract", "Contract"),
                ("legal_entity", "Legal entity"),
                ("status", "Status"),
                ("billable", "Billable"),
                ("billing_hold", "Billing hold"),
                ("start_date", "Start date"),
                ("end_date", "End date"),
                ("closed_on", "Time billed up to"),
            ),
            select_related=("customer", "contract", "legal_entity"),
            erp_record="job",
            psa_collection="projects",
            remote={
                "erp": {
                    "code": "externalId",
                    "name": "companyName",
                    "contract": "custentity_contract_number",
                    "legal_entity": "subsidiary.id",
                    "status": ("entityStatus.refName", JOB_STATUS_CANONICAL),
                    "start_date": "startDate",
                    "end_date": "endDate",
                },
                "psa": {
                    "code": "code",
                    "name": "name",
                    "customer": "customer",
                    "contract": "contract",
                    "status": "status",
                    "start_date": "start_date",
                    "end_date": "end_date",
                },
            },
            repush=True,
        ),
        RecordKind(
            slug="resource",
            label="Resource",
            model_path="canonical.Resource",
            key_field="employee_number",
            flow=FlowKind.MASTER_DATA_SYNC,
            event_type="resource.upserted",
            fields=(
                ("employee_number", "Employee number"),
                ("name", "Name"),
                ("email", "Email"),
                ("role", "Role"),
                ("legal_entity", "Legal entity"),
                ("cost_rate", "Cost rate"),
                ("active", "Active"),
            ),
            select_related=("legal_entity",),
        ),
        RecordKind(
            slug="time-entry",
            label="Time entry",
            model_path="canonical.TimeEntry",
            key_field="number",
            flow=FlowKind.TIME_TO_BILLING,
            event_type="time_entry.approved",
            fields=(
                ("number", "Number"),
                ("project", "Project"),
                ("resource", "Resource"),
                ("work_date", "Work date"),
                ("hours", "Hours"),
                ("billable", "Billable"),
                ("status", "Status"),
                ("approved_at", "Approved at"),
                ("invoice", "Invoice"),
            ),
            select_related=("project", "resource", "invoice"),
        ),
        RecordKind(
            slug="invoice",
            label="Invoice",
            model_path="canonical.Invoice",
            key_field="number",
            flow=FlowKind.TIME_TO_BILLING,
            event_type="invoice.approved",
            fields=(
                ("number", "Number"),
                ("customer", "Customer"),
                ("project", "Project"),
                ("currency", "Currency"),
                ("amount", "Amount"),
                ("period_start", "Period start"),
                ("period_end", "Period end"),
                ("status", "Status"),
                ("erp_number", "ERP number"),
            ),
            select_related=("customer", "project"),
            erp_record="invoice",
            remote={
                "erp": {
                    "number": "externalId",
                    "currency": "currency.refName",
                    "amount": "total",
                    "period_end": "tranDate",
                    "erp_number": "tranId",
                }
            },
        ),
    )
}
RECORD_KIND_OF_EVENT = {
    "contract.signed": "contract",
    "contract.amended": "contract",
    "project.upserted": "project",
    "resource.upserted": "resource",
    "time_entry.approved": "time-entry",
    "invoice.approved": "invoice",
}


def record_kind_of(record: Any) -> RecordKind | None:
    label = record._meta.label
    return next((kind for kind in RECORD_KINDS.values() if kind.model_path == label), None)


def record_get(*, kind: str, pk: int) -> Any | None:
    """A canonical record of one of the record view's kinds, or None."""
    record_kind = RECORD_KINDS.get(kind)
    if record_kind is None:
        return None
    model = record_kind.model()
    return model._default_manager.select_related(*record_kind.select_related).filter(pk=pk).first()


def record_find(*, kind: str, key: str) -> Any | None:
    """A record by its business key (contract number, project code, employee number, ...)."""
    record_kind = RECORD_KINDS.get(kind)
    if record_kind is None or not key.strip():
        return None
    manager = record_kind.model()._default_manager
    return manager.filter(**{f"{record_kind.key_field}__iexact": key.strip()}).first()


def _key_of(value: Any) -> Any:
    """A related record as the events name it: by its business key."""
    for name in ("number", "code", "employee_number"):
        if hasattr(value, name):
            return getattr(value, name)
    return value


def record_canonical_fields(*, record: Any, kind: RecordKind) -> dict[str, Any]:
    """The canonical record's business fields, named as its events name them."""
    return {name: _key_of(getattr(record, name, None)) for name, _ in kind.fields}


@dataclass(frozen=True)
class FieldDiff:
    name: str
    label: str
    canonical: str
    theirs: str
    compared: bool  # False when this system does not hold the field

    @property
    def same(self) -> bool:
        return not self.compared or _comparable(self.canonical) == _comparable(self.theirs)


@dataclass
class Freshness:
    """How current a system's copy is, against the SLA when one applies."""

    status: str  # current, behind, ahead, unknown, missing
    behind: int | None
    since: datetime | None  # behind since (the canonical change it has not caught up with)
    target_minutes: int | None
    at_risk_share: Decimal | None = None
    now: datetime | None = None

    @property
    def overdue(self) -> bool:
        return self.sla_state == "breached"

    @property
    def sla_state(self) -> str:
        """within, at_risk, breached, or "" when nothing is owed or no SLA applies."""
        if self.status not in ("behind", "missing") or not self.target_minutes or not self.since:
            return ""
        age = ((self.now or timezone.now()) - self.since).total_seconds() / 60
        if age >= self.target_minutes:
            return "breached"
        if age >= self.target_minutes * float(self.at_risk_share or Decimal("0.75")):
            return "at_risk"
        return "within"


@dataclass
class SystemCopy:
    """One system's copy of a record: its id there, the version it holds, and the diff."""

    system: ConnectedSystem
    state: SyncState | None
    freshness: Freshness
    source: str  # "remote", "event", "none"
    note: str = ""
    unreachable: str = ""
    missing_there: bool = False
    diff: list[FieldDiff] = field(default_factory=list)
    can_repush: bool = False

    @property
    def differences(self) -> int:
        return sum(1 for d in self.diff if not d.same)

    @property
    def compared(self) -> list[FieldDiff]:
        """The fields this system holds, each against the canonical value."""
        return [d for d in self.diff if d.compared]

    @property
    def not_held(self) -> str:
        """The labels of the canonical fields this system does not hold ("Billable, Status")."""
        return ", ".join(d.label for d in self.diff if not d.compared)


@dataclass
class RecordView:
    kind: RecordKind
    record: Any
    canonical: dict[str, Any]
    copies: list[SystemCopy]
    sla_name: str
    sla_minutes: int | None
    repush_systems: list[ConnectedSystem]
    projects: list[Any] = field(default_factory=list)


def _sla_for(kind: RecordKind) -> tuple[str, int | None, Decimal | None]:
    """The active flow SLA for the record's flow (its event type first), else the flow's own."""
    from controltower.choices import SlaKind
    from controltower.models import SlaPolicy

    policy = (
        SlaPolicy.objects.filter(
            kind=SlaKind.FLOW, active=True, flow=kind.flow, event_type__in=[kind.event_type, ""]
        )
        .order_by("-event_type", "target_minutes")
        .first()
    )
    if policy is not None:
        return policy.name, policy.target_minutes, policy.at_risk_share
    flow = Flow.objects.filter(kind=kind.flow).values_list("name", "sla_seconds").first()
    if flow and flow[1]:
        return f"{flow[0]} flow", max(1, flow[1] // 60), None
    return "", None, None


def _push_targets(kind: RecordKind) -> list[ConnectedSystem]:
    """The systems the tower writes records of this kind to (the enabled ERP and PSA)."""
    if not kind.repush:
        return []
    systems = []
    for system_kind in (SystemKind.ERP, SystemKind.PSA):
        system = (
            ConnectedSystem.objects.filter(kind=system_kind, enabled=True)
            .exclude(base_url="")
            .order_by("slug")
            .first()
        )
        if system is not None:
            systems.append(system)
    return systems


def _path(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _remote_value(body: Any, spec: str | tuple[str, dict[str, str]]) -> Any:
    """A field of a system's copy, in canonical terms where the system names values its way."""
    if isinstance(spec, str):
        return _path(body, spec)
    path, canonical_values = spec
    value = _path(body, path)
    return canonical_values.get(value, value) if isinstance(value, str) else value


def field_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(field_text(v) for v in value)
    return str(value)


def _comparable(text: str) -> Any:
    """Values as equal as a person would read them: 250000 = 250000.00, Z = +00:00."""
    if text in ("", "None"):
        return ""
    number = _decimal(text) if not text.isalpha() else None
    if number is not None:
        return number.normalize()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text.strip()
    return moment if moment.tzinfo else moment.isoformat()


def record_remote_copy(
    *, system: ConnectedSystem, kind: RecordKind, external_id: str, timeout: float | None = None
) -> dict[str, Any]:
    """The system's own copy of the record, read over its API now (a short timeout).

    Raises ``RemoteUnreachable`` with a sentence to show when the system does not answer
    or answers with an error.
    """
    import httpx

    from integrations.clients.erp import ErpClient
    from integrations.clients.psa import PsaClient

    if system.kind == SystemKind.ERP and kind.erp_record:
        url = f"{ErpClient(system).base}/{kind.erp_record}/{external_id}"
    elif system.kind == SystemKind.PSA and kind.psa_collection:
        url = f"{PsaClient(system).base}/{kind.psa_collection}/{external_id}"
    else:
        raise RemoteUnreachable(f"{system.name} has no API the tower reads {kind.label}s from.")
    try:
        response = httpx.get(
            url,
            timeout=timeout or REMOTE_TIMEOUT_SECONDS,
            headers={"Accept": "application/json", "User-Agent": "integration-control-tower"},
        )
    except httpx.TimeoutException:
        raise RemoteUnreachable(
            f"Could not reach {system.name}: no answer from {url} within "
            f"{timeout or REMOTE_TIMEOUT_SECONDS:g} s."
        ) from None
    except httpx.HTTPError as exc:
        raise RemoteUnreachable(f"Could not reach {system.name} at {url}: {exc}.") from None
    if response.status_code == 404:
        raise RemoteUnreachable(
            f"{system.name} has no {kind.label.lower()} {external_id} (404 from {url}).",
            missing=True,
        )
    if not response.is_success:
        raise RemoteUnreachable(
            f"Could not read the copy in {system.name}: {url} answered {response.status_code}."
        )
    try:
        body = response.json()
    except ValueError:
        raise RemoteUnreachable(
            f"{system.name} answered {url} with something other than JSON."
        ) from None
    return body if isinstance(body, dict) else {}


class RemoteUnreachable(Exception):
    """The system's copy could not be read; ``missing`` when the system says it has none."""

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.missing = missing


def _remote_key(system: ConnectedSystem) -> str:
    return (
        "erp" if system.kind == SystemKind.ERP else "psa" if system.kind == SystemKind.PSA else ""
    )


def record_view(
    *, record: Any, fetch_remote: bool = True, now: datetime | None = None
) -> RecordView:
    """A record's id, version, freshness and field-by-field diff in every system.

    A system the tower writes to (the ERP, the PSA) is asked for its copy over its API;
    a system that sent the record is compared with the last event it sent. A system the
    record should be in but is not shows as missing.
    """
    from django.contrib.contenttypes.models import ContentType

    now = now or timezone.now()
    kind = record_kind_of(record)
    if kind is None:
        raise ValueError(f"No record view for {record._meta.label}.")
    canonical = record_canonical_fields(record=record, kind=kind)
    sla_name, sla_minutes, at_risk = _sla_for(kind)
    states = list(
        SyncState.objects.filter(
            content_type=ContentType.objects.get_for_model(record), object_id=record.pk
        )
        .select_related("system", "last_transaction")
        .order_by("system__slug")
    )
    targets = _push_targets(kind)
    resource_ids = _linked_resource_ids(record=record, states=states)
    copies: list[SystemCopy] = []
    held = {state.system_id for state in states}
    for state in states:
        copies.append(
            _copy(
                kind=kind,
                record=record,
                canonical=canonical,
                state=state,
                fetch_remote=fetch_remote,
                resource_ids=resource_ids,
                freshness=_freshness(record, state, sla_minutes, at_risk, now),
                can_repush=any(t.pk == state.system_id for t in targets),
            )
        )
    if kind.slug == "project":
        for system in targets:
            if system.pk not in held:
                copies.append(
                    SystemCopy(
                        system=system,
                        state=None,
                        freshness=Freshness(
                            "missing", None, record.updated_at, sla_minutes, at_risk, now
                        ),
                        source="none",
                        note=f"{system.name} does not hold this {kind.label.lower()} yet.",
                        can_repush=True,
                    )
                )
    projects = []
    if kind.slug == "contract":
        projects = list(record.projects.order_by("code"))
    return RecordView(
        kind=kind,
        record=record,
        canonical=canonical,
        copies=copies,
        sla_name=sla_name,
        sla_minutes=sla_minutes,
        repush_systems=targets,
        projects=projects,
    )


def _freshness(
    record: Any, state: SyncState, minutes: int | None, at_risk: Decimal | None, now: datetime
) -> Freshness:
    version = getattr(record, "version", None)
    if state.last_version is None or version is None:
        return Freshness("unknown", None, None, minutes, at_risk, now)
    behind = version - state.last_version
    if behind > 0 or state.outcome != SyncOutcome.SYNCED:
        return Freshness("behind", max(behind, 0), record.updated_at, minutes, at_risk, now)
    if behind < 0:
        return Freshness("ahead", behind, None, minutes, at_risk, now)
    return Freshness("current", 0, None, minutes, at_risk, now)


def _linked_resource_ids(*, record: Any, states: list[SyncState]) -> dict[tuple[int, int], str]:
    """For a time entry: its resource's id in each system that names people by its own ids."""
    from django.contrib.contenttypes.models import ContentType

    from canonical.models import Resource

    resource_id = getattr(record, "resource_id", None)
    if resource_id is None:
        return {}
    return {
        (system_id, resource_id): external_id
        for system_id, external_id in SyncState.objects.filter(
            content_type=ContentType.objects.get_for_model(Resource),
            object_id=resource_id,
            system_id__in=[state.system_id for state in states],
        ).values_list("system_id", "external_id")
    }


def _copy(
    *,
    kind: RecordKind,
    record: Any,
    canonical: dict[str, Any],
    state: SyncState,
    fetch_remote: bool,
    resource_ids: dict[tuple[int, int], str],
    freshness: Freshness,
    can_repush: bool,
) -> SystemCopy:
    from integrations.adapters import adapter_for

    system = state.system
    copy = SystemCopy(
        system=system, state=state, freshness=freshness, source="none", can_repush=can_repush
    )
    labels = dict(kind.fields)
    remote_map = kind.remote.get(_remote_key(system)) if system.base_url else None
    sent = state.last_transaction
    if (
        sent is not None
        and sent.source_system_id == system.pk
        and isinstance(sent.normalized, dict)
    ):
        data = _event_data(sent)
        prefix = ""
        try:
            prefix = getattr(adapter_for(system), "resource_prefix", "")
        except LookupError:
            prefix = ""
        copy.source = "event"
        copy.note = f"The last event {system.name} sent: transaction #{sent.pk}."
        diff = []
        for name, label in kind.fields:
            theirs = data.get(name) if name in data else None
            ours = canonical.get(name)
            if (
                name == "resource"
                and prefix
                and isinstance(theirs, str)
                and theirs.upper().startswith(prefix)
            ):
                linked = resource_ids.get((system.pk, getattr(record, "resource_id", 0)))
                ours = f"{prefix}{linked}" if linked else f"{field_text(ours)} (not linked)"
            diff.append(FieldDiff(name, label, field_text(ours), field_text(theirs), name in data))
        copy.diff = diff
        return copy
    if remote_map and state.external_id:
        if not fetch_remote:
            copy.note = "Not read from the system on this page."
            return copy
        try:
            body = record_remote_copy(system=system, kind=kind, external_id=state.external_id)
        except RemoteUnreachable as exc:
            copy.unreachable = exc.message
            copy.missing_there = exc.missing
            return copy
        copy.source = "remote"
        copy.diff = [
            FieldDiff(
                name,
                labels[name],
                field_text(canonical.get(name)),
                field_text(_remote_value(body, remote_map[name])) if name in remote_map else "",
                name in remote_map,
            )
            for name, _ in kind.fields
        ]
        return copy
    if not state.external_id:
        copy.note = "The tower knows no id for it there."
    elif remote_map is None and system.base_url:
        copy.note = f"The tower keeps no copy of {kind.label.lower()}s from {system.name}."
    else:
        copy.note = (
            f"{system.name} names it {state.external_id}; the tower keeps no copy to compare."
        )
    return copy
