"""The record view's reads: a canonical record, its id and version in every system, how
fresh each copy is, and a field-by-field diff against each copy.

The copies a system holds are read over its API by ``integrations.services.records``
(no HTTP here); a record's SLA comes from the caller."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from canonical.models import Resource
from canonical.selectors import BillingTermsShown, billing_terms_shown
from integrations.adapters import adapter_for
from integrations.choices import (
    FlowKind,
    SyncOutcome,
    SystemKind,
)
from integrations.clients.copies import RemoteCopy
from integrations.clients.erp import JOB_STATUS_CANONICAL
from integrations.models import (
    ConnectedSystem,
    Flow,
    SyncState,
    Transaction,
)
from integrations.selectors.routing import ErpRouteInfo, erp_route_of
from integrations.selectors.transactions import decimal_or_none, event_data

# The record view -------------------------------------------------------------------------


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
                ("monthly_fee", "Monthly fee"),
                ("included_hours", "Included hours"),
                ("unused_hours_roll_over", "Unused hours roll over"),
                ("tax_code", "Tax code"),
                ("payment_terms", "Payment terms"),
                ("expense_categories", "Rebillable expense categories"),
                ("expense_markup_percent", "Expense markup %"),
                ("status", "Status"),
                ("signed_at", "Signed at"),
            ),
            select_related=("customer__parent", "legal_entity", "rate_card"),
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
            slug="customer",
            label="Customer",
            model_path="canonical.Customer",
            key_field="number",
            flow=FlowKind.MASTER_DATA_SYNC,
            event_type="customer.upserted",
            fields=(
                ("number", "Number"),
                ("name", "Name"),
                ("legal_entity", "Legal entity"),
                ("currency", "Currency"),
                ("tax_code", "Tax code"),
                ("payment_terms", "Payment terms"),
                ("parent", "Bill-to account (parent)"),
                ("active", "Active"),
            ),
            select_related=("legal_entity", "parent"),
            erp_record="customer",
            remote={
                "erp": {
                    "number": "externalId",
                    "name": "companyName",
                    "legal_entity": "subsidiary.id",
                    "currency": "currency.refName",
                    "payment_terms": "terms.externalId",
                }
            },
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
    "customer.upserted": "customer",
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
    # The ERP that keeps the record's legal entity's books (None: no legal entity).
    erp_route: ErpRouteInfo | None = None
    # A customer's or contract's bill-to account, tax code and payment terms.
    billing_terms: BillingTermsShown | None = None


@dataclass(frozen=True)
class FlowSla:
    """What a record's copies are held to: the SLA's name, its minutes, and the share of
    them gone when a copy that is behind counts as at risk."""

    name: str = ""
    minutes: int | None = None
    at_risk_share: Decimal | None = None


def flow_sla(kind: RecordKind) -> FlowSla:
    """The flow's own SLA (its ``sla_seconds``), for a record no SLA policy speaks of."""
    flow = Flow.objects.filter(kind=kind.flow).values_list("name", "sla_seconds").first()
    if flow and flow[1]:
        return FlowSla(f"{flow[0]} flow", max(1, flow[1] // 60), None)
    return FlowSla()


def record_push_targets(
    kind: RecordKind, record: Any = None, *, route: ErpRouteInfo | None = None
) -> list[ConnectedSystem]:
    """The systems the tower writes records of this kind to: the ERP that owns the
    record's legal entity (with several ERPs, only that one), and the enabled PSA.
    ``route`` is the record's ERP route when the caller has read it already."""
    if not kind.repush:
        return []
    systems = []
    if route is None and record is not None:
        route = erp_route_of(record)
    if route is not None:
        if route.system is not None:
            systems.append(route.system)
    else:
        erp = (
            ConnectedSystem.objects.filter(kind=SystemKind.ERP, enabled=True)
            .exclude(base_url="")
            .order_by("slug")
            .first()
        )
        if erp is not None:
            systems.append(erp)
    psa = (
        ConnectedSystem.objects.filter(kind=SystemKind.PSA, enabled=True)
        .exclude(base_url="")
        .order_by("slug")
        .first()
    )
    if psa is not None:
        systems.append(psa)
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
    number = decimal_or_none(text) if not text.isalpha() else None
    if number is not None:
        return number.normalize()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text.strip()
    return moment if moment.tzinfo else moment.isoformat()


def remote_map_of(kind: RecordKind, system: ConnectedSystem) -> dict[str, Any] | None:
    """Where a system the tower writes to holds each field of a record of ``kind`` (None
    when the tower reads no copy of such records from it)."""
    if not system.base_url:
        return None
    key = "erp" if system.kind == SystemKind.ERP else "psa" if system.kind == SystemKind.PSA else ""
    return kind.remote.get(key)


def sent_by_itself(state: SyncState) -> bool:
    """Whether the last word on the record came from the system itself (an event it sent):
    its copy is then that event, and nothing needs reading from its API."""
    sent = state.last_transaction
    return (
        sent is not None
        and sent.source_system_id == state.system_id
        and isinstance(sent.normalized, dict)
    )


def record_view(
    *,
    record: Any,
    remote_copies: Mapping[int, RemoteCopy] | None = None,
    sla: FlowSla | None = None,
    now: datetime | None = None,
) -> RecordView:
    """A record's id, version, freshness and field-by-field diff in every system.

    A system the tower writes to (the ERP, the PSA) is compared with the copy it answered
    (``remote_copies``, by system id, read by ``integrations.services.records.record_copies_read``;
    without them its copy shows as not read); a system that sent the record is compared
    with the last event it sent. A system the record should be in but is not shows as
    missing. ``sla`` is the promise the copies are held to (the flow's own by default).
    """

    now = now or timezone.now()
    kind = record_kind_of(record)
    if kind is None:
        raise ValueError(f"No record view for {record._meta.label}.")
    canonical = record_canonical_fields(record=record, kind=kind)
    sla = sla or flow_sla(kind)
    sla_name, sla_minutes, at_risk = sla.name, sla.minutes, sla.at_risk_share
    states = list(
        SyncState.objects.filter(
            content_type=ContentType.objects.get_for_model(record), object_id=record.pk
        )
        .select_related("system", "last_transaction")
        .order_by("system__slug")
    )
    route = erp_route_of(record) if kind.slug != "resource" else None
    targets = record_push_targets(kind, record, route=route)
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
                remote_copies=remote_copies,
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
    billing_terms = billing_terms_shown(record) if kind.slug in ("customer", "contract") else None
    return RecordView(
        kind=kind,
        record=record,
        canonical=canonical,
        copies=copies,
        sla_name=sla_name,
        sla_minutes=sla_minutes,
        repush_systems=targets,
        projects=projects,
        erp_route=route,
        billing_terms=billing_terms,
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
    remote_copies: Mapping[int, RemoteCopy] | None,
    resource_ids: dict[tuple[int, int], str],
    freshness: Freshness,
    can_repush: bool,
) -> SystemCopy:
    system = state.system
    copy = SystemCopy(
        system=system, state=state, freshness=freshness, source="none", can_repush=can_repush
    )
    labels = dict(kind.fields)
    remote_map = remote_map_of(kind, system)
    sent = state.last_transaction
    if sent_by_itself(state):
        data = event_data(sent)
        prefix = ""
        try:
            prefix = getattr(adapter_for(system), "ref_prefix", "")
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
        remote = remote_copies.get(system.pk) if remote_copies is not None else None
        if remote is None:
            copy.note = "Not read from the system on this page."
            return copy
        if remote.unreachable:
            copy.unreachable = remote.unreachable
            copy.missing_there = remote.missing
            return copy
        body = remote.body
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
