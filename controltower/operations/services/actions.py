"""The people's actions on the engine's work: transactions, flows and records.

Retry, bulk retry, replay (with an edited payload held for a second person when it
posts billing data), cancel, pause and resume a flow, start a reconciliation, re-push a
record, link a resource. Each is one service used alike by the API, the admin and the
pages; each checks what the person may do here, calls the engine, and writes an audit
row: who, what, before and after, and the reason.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from canonical.choices import InvoiceStatus
from canonical.errors import ApplicationError, ConflictError, InvalidStateError, NotFoundError
from canonical.models import Contract, Invoice, Project
from controltower.operations.choices import BulkAction, BulkStatus
from controltower.operations.models import BulkOperation
from controltower.operations.services.audit import audit_record
from integrations.adapters import EventRejected, adapter_for
from integrations.choices import (
    CANCELLABLE_STATES,
    REPLAY_PENDING_STATES,
    RETRYABLE_STATES,
    BreakerState,
    ExceptionType,
    FlowKind,
    SystemKind,
    TransactionState,
)
from integrations.errors import IntegrationError
from integrations.flows.catalog import REPUSH_EVENT
from integrations.models import (
    CircuitBreaker,
    ConnectedSystem,
    ErpRoute,
    ExceptionRecord,
    Flow,
    SyncState,
    Transaction,
)
from integrations.selectors.routing import erp_owner_check
from integrations.services.breakers import breaker_set
from integrations.services.exceptions import exception_raise
from integrations.services.queueing import (
    transaction_internal_create,
    transactions_enqueue,
    transactions_requeue,
    transactions_requeue_selected,
)
from integrations.services.reconciliation import reconciliation_queue
from integrations.services.rollups import rollups_received
from integrations.services.routing import erp_route_delete, erp_route_set
from integrations.services.sync import LINKABLE, link_pick_of, record_link_record

Actor = AbstractBaseUser | None

# Flows whose events end in invoices: an edited replay of one needs four eyes.
FINANCIAL_FLOWS = (FlowKind.TIME_TO_BILLING,)


def _locked(transaction_id: int) -> Transaction:
    tx = (
        Transaction.objects.select_for_update(of=("self",))
        .select_related("flow", "source_system")
        .filter(pk=transaction_id)
        .first()
    )
    if tx is None:
        raise NotFoundError(f"Transaction {transaction_id} does not exist.")
    return tx


def _state_of(tx: Transaction) -> dict[str, Any]:
    return {"state": tx.state, "attempts_count": tx.attempts_count, "last_error": tx.last_error}


def transaction_retry(*, transaction_id: int, actor: Actor, reason: str = "") -> Transaction:
    """Runs a failed, dead or blocked transaction again, with a fresh attempt budget."""
    with transaction.atomic():
        tx = _locked(transaction_id)
        if tx.state not in RETRYABLE_STATES:
            raise InvalidStateError(
                f"Transaction {tx.pk} is {tx.state}; only {', '.join(RETRYABLE_STATES)} "
                "transactions can be retried.",
                errors={"state": [tx.state]},
            )
        before = _state_of(tx)
        transactions_requeue(transactions=[tx])
        audit_record(
            actor=actor,
            action="transaction.retry",
            obj=tx,
            before=before,
            after=_state_of(tx),
            reason=reason,
        )
    return tx


def transactions_bulk_retry(
    *, queryset: QuerySet[Transaction], actor: Actor, reason: str = "", description: str = ""
) -> BulkOperation:
    """Retries every retryable transaction the filter selects, set-based, and records a bulk
    operation whose progress the workers move as they run them (``bulk_retry_progress``)."""
    with transaction.atomic():
        ids = transactions_requeue_selected(queryset=queryset)
        count = len(ids)
        now = timezone.now()
        operation = BulkOperation.objects.create(
            action=BulkAction.RETRY_TRANSACTIONS,
            requested_by=actor if getattr(actor, "is_authenticated", False) else None,
            selection={"filter": description},
            transaction_ids=ids,
            params={"reason": reason},
            status=BulkStatus.RUNNING if count else BulkStatus.DONE,
            total=count,
            heartbeat_at=now,
            finished_at=None if count else now,
        )
        # The ids are on the operation; the audit row names it and the range.
        audit_record(
            actor=actor,
            action="transaction.bulk_retry",
            object_type="integrations.transaction",
            object_id="bulk",
            object_repr=f"{count} transactions",
            before={"filter": description},
            after={
                "count": count,
                "operation": operation.pk,
                "first_id": ids[0] if ids else None,
                "last_id": ids[-1] if ids else None,
            },
            reason=reason,
        )
    return operation


def transaction_replay(
    *, transaction_id: int, actor: Actor, payload: Any = None, reason: str = ""
) -> Transaction:
    """Runs a transaction's event again as a new transaction linked to the original.

    With ``payload`` the new transaction carries that edited canonical event,
    checked against its schema first; the audit row keeps both versions.
    """
    with transaction.atomic():
        original = _locked(transaction_id)
        if original.source_system_id is None:
            raise InvalidStateError(
                f"Transaction {original.pk} is the tower's own work; retry it instead of replaying it.",
                errors={"source_system": ["none"]},
            )
        if original.flow_id is None or original.normalized is None:
            raise InvalidStateError(
                f"Transaction {original.pk} was refused at the door and has no event to replay; "
                "the sender must send a corrected event.",
                errors={"state": [original.state]},
            )
        # One replay per original at a time: the original's row lock above makes a second
        # request (a double click) wait for the first and then find its replay here.
        pending = (
            Transaction.objects.filter(parent=original, state__in=REPLAY_PENDING_STATES)
            .order_by("pk")
            .values_list("pk", flat=True)
            .first()
        )
        if pending is not None:
            raise ConflictError(
                f"A replay of transaction {original.pk} is already running: #{pending}.",
                errors={"replay": [f"Running as transaction {pending}."]},
                extra={"replay": pending},
            )
        adapter = adapter_for(original.source_system)
        edited = payload is not None
        normalized = payload if edited else original.normalized
        if not edited and original.fetch:
            # A thin event whose record was never read: the replay reads it when it runs.
            identity = {
                "event_type": original.event_type,
                "business_key": original.business_key,
                "external_id": original.external_id,
                "event_version": original.event_version,
                "fetch": original.fetch,
            }
        else:
            try:
                event = adapter.validate_normalized(normalized)
            except EventRejected as exc:
                raise ApplicationError(
                    f"The edited payload is invalid: {exc.message}",
                    errors={f"payload.{key}": value for key, value in exc.errors.items()},
                ) from None
            if event.flow_kind != original.flow.kind:
                raise ApplicationError(
                    f"The edited event belongs to flow {event.flow_kind}, not "
                    f"{original.flow.kind}.",
                    errors={"payload.type": [event.event_type]},
                )
            normalized = event.normalized  # upcast to its type's current schema version
            identity = {
                "event_type": event.event_type,
                "business_key": event.business_key[:100],
                "external_id": event.external_id[:100],
                "event_version": event.version,
            }
        replay = Transaction.objects.create(
            flow=original.flow,
            source_system=original.source_system,
            target_system=original.target_system,
            **identity,
            idempotency_key=None,
            correlation_id=original.correlation_id,
            parent=original,
            payload=original.payload,
            normalized=normalized,
            sla_due_at=original.sla_due_at,
        )
        rollups_received(transactions=[replay])
        held = edited and original.flow.kind in FINANCIAL_FLOWS
        if held:
            _hold_for_approval(replay, original=original, actor=actor, reason=reason)
        audit_record(
            actor=actor,
            action="transaction.replay_edited" if edited else "transaction.replay",
            obj=original,
            before={"normalized": original.normalized},
            after={
                "replay_id": replay.pk,
                "normalized": normalized,
                "awaiting_approval": replay.exception_id if held else None,
            },
            reason=reason,
        )
        if not held:
            transactions_enqueue(transactions=[replay])
    return replay


def _hold_for_approval(
    replay: Transaction, *, original: Transaction, actor: Actor, reason: str
) -> None:
    """An edited event that ends in a financial document waits for a second person."""
    failure = IntegrationError.business(
        f"{actor.get_username() if actor else 'Someone'} replayed transaction {original.pk} "
        f"({original.event_type} {original.business_key}) with an edited payload; it posts "
        "billing data, so another approver must approve it before it runs.",
        code=ExceptionType.EDITED_REPLAY,
        details={"original": original.pk, "replay": replay.pk, "reason": reason},
    )
    exc = exception_raise(tx=replay, failure=failure, cause=f"replay:{replay.pk}")
    exc.prepared_by = actor if getattr(actor, "is_authenticated", False) else None
    exc.save(update_fields=["prepared_by", "updated_at"])
    replay.state = TransactionState.AWAITING_APPROVAL
    replay.exception = exc
    replay.error_code = failure.code
    replay.last_error = failure.message
    replay.save(update_fields=["state", "exception", "error_code", "last_error", "updated_at"])


def transaction_cancel(*, transaction_id: int, actor: Actor, reason: str) -> Transaction:
    if not reason.strip():
        raise ApplicationError("A reason is required to cancel.", errors={"reason": ["Required."]})
    with transaction.atomic():
        tx = _locked(transaction_id)
        if tx.state not in CANCELLABLE_STATES:
            raise InvalidStateError(
                f"Transaction {tx.pk} is {tx.state} and cannot be cancelled.",
                errors={"state": [tx.state]},
            )
        before = _state_of(tx)
        tx.state = TransactionState.CANCELLED
        tx.finished_at = timezone.now()
        tx.next_attempt_at = None
        tx.last_error = f"Cancelled: {reason}"
        tx.save(
            update_fields=["state", "finished_at", "next_attempt_at", "last_error", "updated_at"]
        )
        audit_record(
            actor=actor,
            action="transaction.cancel",
            obj=tx,
            before=before,
            after=_state_of(tx),
            reason=reason,
        )
    return tx


def flow_pause(*, flow: Flow, actor: Actor, reason: str = "") -> Flow:
    """Stops processing; events keep arriving and are stored."""
    with transaction.atomic():
        flow = Flow.objects.select_for_update().get(pk=flow.pk)
        if not flow.paused:
            flow.paused = True
            flow.save(update_fields=["paused", "updated_at"])
            audit_record(
                actor=actor,
                action="flow.pause",
                obj=flow,
                before={"paused": False},
                after={"paused": True},
                reason=reason,
            )
    return flow


def flow_resume(*, flow: Flow, actor: Actor, reason: str = "") -> Flow:
    """Starts processing again, beginning with what arrived while paused."""
    with transaction.atomic():
        flow = Flow.objects.select_for_update().get(pk=flow.pk)
        if flow.paused:
            flow.paused = False
            flow.save(update_fields=["paused", "updated_at"])
            audit_record(
                actor=actor,
                action="flow.resume",
                obj=flow,
                before={"paused": True},
                after={"paused": False},
                reason=reason,
            )
            waiting = list(
                Transaction.objects.filter(
                    flow=flow,
                    state__in=[TransactionState.RECEIVED, TransactionState.RETRY_SCHEDULED],
                )
                .select_related("flow")
                .order_by("pk")
            )
            transactions_enqueue(transactions=waiting)
    return flow


def reconciliation_start(*, actor: Actor, reason: str = "") -> Transaction:
    """Queues a reconciliation run now, as a person asked (beat starts one nightly)."""
    with transaction.atomic():
        run = reconciliation_queue()
        audit_record(actor=actor, action="reconciliation.start", obj=run, reason=reason)
    return run


# States in which a re-push is still to run: a second request for the same record waits.
_REPUSH_PENDING = (
    TransactionState.RECEIVED,
    TransactionState.PROCESSING,
    TransactionState.RETRY_SCHEDULED,
)


def record_repush(
    *, record: Any, system: ConnectedSystem, actor: Actor, reason: str = "", recreate: bool = False
) -> Transaction:
    """Queues a transaction that sends ``record`` to ``system`` again, whatever its sync
    state says (a copy someone changed there, a push that was lost).

    The tower writes projects to the ERP (the project shell with its billing schedule) and
    the PSA; a contract is re-pushed as its projects. The push runs in the
    contract-to-project flow like the first one, and is audited here. A posted invoice is
    posted to its ERP again. ``recreate``: the system no longer holds the record, which is
    created there again by its external id.
    """
    if isinstance(record, Invoice):
        contract, key, record_type = record.project.contract, record.number, "invoice"
        if record.status not in (InvoiceStatus.POSTED, InvoiceStatus.PAID):
            raise ApplicationError(
                f"Invoice {record.number} is {record.get_status_display().lower()}; only a "
                "posted invoice is re-pushed (an approved one is posted by its approval).",
                errors={"record": ["Not posted."]},
            )
        if system.kind != SystemKind.ERP:
            raise ApplicationError(
                f"Invoices go to the ERP, not to {system.name}.",
                errors={"system": [f"{system.slug} takes no invoices."]},
            )
    elif isinstance(record, Project):
        contract, key, record_type = record.contract, record.code, "project"
        if contract is None:
            raise ApplicationError(
                f"Project {record.code} has no contract; the tower pushes projects from their "
                "contract, so there is nothing to re-push.",
                errors={"record": ["No contract."]},
            )
    elif isinstance(record, Contract):
        contract, key, record_type = record, record.number, "contract"
        if not record.projects.exists():
            raise ApplicationError(
                f"Contract {record.number} has no project yet; nothing to re-push.",
                errors={"record": ["No project."]},
            )
    else:
        raise ApplicationError(
            f"The tower does not write {record._meta.verbose_name_plural} to other systems; "
            "there is nothing to re-push.",
            errors={"record": ["Not pushed by the tower."]},
        )
    if system.kind not in (SystemKind.ERP, SystemKind.PSA) or not system.base_url:
        raise ApplicationError(
            f"The tower does not push projects to {system.name}; it pushes them to the ERP "
            "and the PSA.",
            errors={"system": [f"{system.slug} takes no projects."]},
        )
    if not system.enabled:
        raise ApplicationError(
            f"{system.name} is disabled; enable it before re-pushing to it.",
            errors={"system": ["Disabled."]},
        )
    # An ERP instance takes only the projects of the legal entities it owns.
    legal_entity = record.legal_entity if record_type == "invoice" else contract.legal_entity
    erp_owner_check(system=system, legal_entity_code=legal_entity.code, what=f"{record_type} {key}")
    with transaction.atomic():
        pending = (
            Transaction.objects.filter(
                business_key=key,
                event_type=REPUSH_EVENT,
                target_system=system,
                state__in=_REPUSH_PENDING,
            )
            .values_list("pk", flat=True)
            .first()
        )
        if pending is not None:
            raise ConflictError(
                f"A re-push of {key} to {system.name} is already queued (transaction {pending}).",
                errors={"record": [f"Queued as transaction {pending}."]},
            )
        tx = transaction_internal_create(
            flow=FlowKind.CONTRACT_TO_PROJECT,
            event_type=REPUSH_EVENT,
            business_key=key,
            correlation_id=contract.correlation_id if contract else "",
            target_system=system,
            data={
                "record_type": record_type,
                "key": key,
                "system": system.slug,
                **({"recreate": True} if recreate else {}),
            },
        )
        audit_record(
            actor=actor,
            action="record.repush",
            obj=record,
            after={
                "system": system.slug,
                "transaction": tx.pk,
                **({"recreate": True} if recreate else {}),
            },
            reason=reason,
        )
        transactions_enqueue(transactions=[tx])
    return tx


def record_link(
    *, kind: str, record_id: int, system_slug: str, external_id: str, actor: Any
) -> SyncState:
    """Links a resource, a project or a customer to its id in a system that names records by
    its own ids (Harvest users and projects, Salesforce accounts), so the work that waited
    for the link runs."""
    linkable = LINKABLE.get(kind)
    if linkable is None:
        raise NotFoundError(f"A {kind} is not linked to other systems' ids.")
    record = linkable.model.objects.filter(pk=record_id).first()
    if record is None:
        raise NotFoundError(f"{kind.capitalize()} {record_id} does not exist.")
    system = ConnectedSystem.objects.filter(slug=system_slug).first()
    if system is None:
        raise ApplicationError(
            f"There is no system {system_slug!r}.", errors={"system": ["Unknown system."]}
        )
    external_id = str(external_id or "").strip()
    if not external_id:
        raise ApplicationError(
            "The id in the system is required.", errors={"external_id": ["Required."]}
        )
    with transaction.atomic():
        state, before = record_link_record(record=record, system=system, external_id=external_id)
        audit_record(
            actor=actor,
            action=f"{kind}.link",
            obj=record,
            before={system.slug: before},
            after={system.slug: external_id},
        )
    return state


def exception_record_pick(*, exception_id: int, key: str, actor: Any) -> SyncState:
    """Resolves an exception that waits for a sender's own id nobody has linked (a Harvest
    user or project) with the record a person picks by its business key. The link is
    remembered: this exception and every later event with the id run at once."""
    exc = ExceptionRecord.objects.filter(pk=exception_id).first()
    if exc is None:
        raise NotFoundError(f"Exception {exception_id} does not exist.")
    pick = link_pick_of(exc)
    if pick is None:
        raise ApplicationError(
            "This exception does not wait for another system's id to be linked.",
            errors={"key": ["Nothing to link."]},
        )
    linkable = LINKABLE[pick.kind]
    record = linkable.model.objects.filter(**{f"{linkable.key_field}__iexact": key.strip()}).first()
    if record is None:
        raise ApplicationError(
            f"There is no {pick.kind} {key.strip()!r} in the tower.",
            errors={"key": [f"No such {pick.kind}."]},
        )
    return record_link(
        kind=pick.kind,
        record_id=record.pk,
        system_slug=pick.system_slug,
        external_id=pick.external_id,
        actor=actor,
    )


def breaker_operate(
    *, system_id: int, state: str, actor: Actor, reason: str = ""
) -> CircuitBreaker:
    """Opens a system's circuit breaker by hand (the tower stops calling it until a person
    closes it: a planned maintenance window, a system sending bad data) or closes it (the
    work that waited for the system goes out, oldest first)."""
    if state not in (BreakerState.OPEN, BreakerState.CLOSED):
        raise ApplicationError(
            f"A breaker is opened or closed by hand, not set to {state!r}.",
            errors={"state": ["open or closed."]},
        )
    system = ConnectedSystem.objects.filter(pk=system_id).first()
    if system is None:
        raise NotFoundError(f"System {system_id} does not exist.")
    with transaction.atomic():
        before = (
            CircuitBreaker.objects.filter(system=system).values_list("state", flat=True).first()
        )
        breaker = breaker_set(system=system, state=BreakerState(state))
        audit_record(
            actor=actor,
            action=f"system.breaker_{'open' if state == BreakerState.OPEN else 'close'}",
            obj=system,
            before={"breaker": before or BreakerState.CLOSED},
            after={"breaker": breaker.state},
            reason=reason,
        )
    return breaker


def erp_route_assign(
    *, legal_entity_code: str, system_slug: str, actor: Actor, reason: str = ""
) -> ErpRoute:
    """Routes a legal entity to its ERP instance (audited); the work that waited for the
    route runs again."""
    with transaction.atomic():
        route, before = erp_route_set(legal_entity_code=legal_entity_code, system_slug=system_slug)
        audit_record(
            actor=actor,
            action="erproute.change" if before else "erproute.add",
            obj=route,
            before={"system": before} if before else None,
            after={"legal_entity": route.legal_entity.code, "system": route.system.slug},
            reason=reason,
        )
    return route


def erp_route_remove(*, route: ErpRoute, actor: Actor, reason: str = "") -> None:
    """Removes a route (audited): the legal entity goes to the only ERP, or waits for a new
    route while several are connected."""
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="erproute.delete",
            obj=route,
            before={"legal_entity": route.legal_entity.code, "system": route.system.slug},
            reason=reason,
        )
        erp_route_delete(route=route)
