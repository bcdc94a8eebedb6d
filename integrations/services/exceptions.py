"""Business exceptions as the engine records them: raised by blocked transactions, and
closed, by a person or because their cause was fixed, through one function.

``exception_raise`` records a failure as an exception (or joins the open one of the same
cause); ``exception_close`` is the one way an exception closes: resolved, it re-runs the
transactions it holds; dismissed, it cancels them. ``exceptions_clear`` and
``exceptions_recheck`` close what waited on data that is there now. The operations
layer hears of both through ``integrations.signals``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone

from canonical.choices import InvoiceStatus, ProjectStatus
from canonical.errors import RuleViolation
from canonical.models import (
    Assignment,
    Contract,
    Customer,
    Invoice,
    LegalEntity,
    Project,
    RateCard,
    Resource,
)
from canonical.services.staffing import assignment_dates_fit
from canonical.services.terms import INVOICE_TERMS_WAIT, invoice_billing_terms
from integrations.adapters.harvest import REF_PREFIX as HARVEST_REF_PREFIX
from integrations.choices import OPEN_STATUSES, ExceptionStatus, TransactionState
from integrations.errors import IntegrationError
from integrations.exception_types import exception_kind
from integrations.live import figures_changed
from integrations.models import ErpRoute, ExceptionRecord, SyncState, Transaction
from integrations.selectors.routing import erp_for_or_none
from integrations.services.money_at_risk import money_at_risk_estimate
from integrations.services.outbox import exception_raised_publish
from integrations.services.queueing import transactions_requeue
from integrations.signals import exception_closed, exception_raised

# What an exception holds: work blocked by a rule, and edited replays awaiting a second person.
HELD_STATES = (TransactionState.BLOCKED, TransactionState.AWAITING_APPROVAL)


def waiting_key(kind: str, *parts: str) -> str:
    """The key of a missing record, e.g. ``waiting_key("legal_entity", "ZZ99")``."""
    return ":".join([kind, *(str(part).strip().upper() for part in parts)])


def exception_raise(
    *,
    tx: Transaction,
    failure: IntegrationError,
    cause: str = "",
    business_key: str = "",
    restate: bool = False,
    flow: str = "",
) -> ExceptionRecord:
    """The open exception for this failure's cause, created or joined; call inside a transaction.

    A new exception is linked to its canonical record, customer and legal entity where
    they are known, and announced (``exception_raised``) so that it lands in its owning
    team's queue at once. Joining adds the
    failure's money to the exception's (once per transaction), unless ``restate``: a measurement taken again
    (a reconciliation difference) replaces the money, message and details instead, and
    ``details["seen_by"]`` lists the transactions that found it (the latest hundred).
    ``flow`` names the flow the exception belongs to when a change in another flow judges
    it again (a person's skills from the HRIS restate a staffing warning), else the
    transaction's.
    ``business_key`` names the item when it is not the transaction's own. The money is
    what the raising code counted, else its code's estimate
    (``integrations.services.money_at_risk``), with a note of how it was counted.
    """
    flow = flow or (tx.flow.kind if tx.flow_id else "")
    cause = cause or failure.waiting_on or tx.business_key or f"transaction:{tx.pk}"
    fingerprint = f"{failure.code}|{flow}|{cause}"[:300]
    estimate = money_at_risk_estimate(tx=tx, failure=failure)
    money = estimate.amount
    details = {"code": failure.code, **failure.details}
    kind = exception_kind(failure.code)
    existing = (
        ExceptionRecord.objects.select_for_update()
        .filter(fingerprint=fingerprint, status__in=OPEN_STATUSES)
        .first()
    )
    if existing is None:
        context = exception_context(tx=tx, record=failure.record)
        exc = ExceptionRecord(
            exception_type=kind.code,
            severity=kind.severity,
            flow=flow,
            message=failure.message,
            details={**details, "seen_by": [tx.pk]} if restate else details,
            waiting_on=failure.waiting_on,
            fingerprint=fingerprint,
            business_key=business_key or tx.business_key or cause[:100],
            money_at_risk=money,
            currency=estimate.currency,
            money_note=estimate.note[:2000],
            **context,
        )
        try:
            with transaction.atomic():
                exc.save()
        except IntegrityError:  # raised by another worker a moment ago: join it
            existing = ExceptionRecord.objects.select_for_update().get(
                fingerprint=fingerprint, status__in=OPEN_STATUSES
            )
        else:
            exception_raised_publish(exception=exc)
            exception_raised.send(sender=ExceptionRecord, exception=exc)
            return exc
    existing.occurrences += 1
    fields = ["occurrences", "money_at_risk", "updated_at"]
    if restate or (money and not existing.money_at_risk):
        # The note says how the money was counted: the first that counted any says it.
        existing.money_note = estimate.note[:2000]
        existing.currency = existing.currency or estimate.currency
        fields += ["money_note", "currency"]
    if restate:
        existing.money_at_risk = money
        existing.message = failure.message
        seen_by = [*(existing.details or {}).get("seen_by", []), tx.pk][-100:]
        existing.details = {**details, "seen_by": seen_by}
        fields += ["message", "details"]
    elif tx.exception_id != existing.pk:
        # A transaction this exception already holds (retried while it is open) is counted once.
        existing.money_at_risk += money
    existing.save(update_fields=fields)
    return existing


# Where an event's canonical record is found: event type prefix → (model, data field).
_RECORD_OF_EVENT = {
    "contract.": ("canonical.contract", "number"),
    "milestone.reached": ("canonical.contract", "contract"),
    "time_entry.": ("canonical.timeentry", "number"),
    "assignment.": ("canonical.assignment", "number"),
    "project.": ("canonical.project", "code"),
    "customer.": ("canonical.customer", "number"),
    "resource.": ("canonical.resource", "employee_number"),
    "rate_card.": ("canonical.ratecard", "code"),
    "legal_entity.": ("canonical.legalentity", "code"),
    "invoice.": ("canonical.invoice", "number"),
}


def exception_context(*, tx: Transaction, record: models.Model | None = None) -> dict:
    """The record, customer and legal entity an exception on ``tx`` is about, where known.

    ``record`` wins when the flow names it; otherwise the event's own record, if it is
    stored yet, and then the customer, project or legal entity the event refers to.
    """
    data = (tx.normalized or {}).get("data") or {}
    if record is None:
        for prefix, (label, field) in _RECORD_OF_EVENT.items():
            if tx.event_type.startswith(prefix) and isinstance(data.get(field), str):
                model = apps.get_model(label)
                lookup = "number" if field == "contract" else field
                record = model.objects.filter(**{lookup: data[field]}).first()
                break
    owner = record
    if owner is not None and hasattr(owner, "project") and not hasattr(owner, "customer_id"):
        owner = owner.project  # a time entry or an assignment belongs to its project's customer
    context: dict = {
        "record_type": ContentType.objects.get_for_model(record) if record is not None else None,
        "record_id": record.pk if record is not None else None,
        "customer_id": getattr(owner, "customer_id", None),
        "legal_entity_id": getattr(owner, "legal_entity_id", None),
    }
    if record is not None and record._meta.label_lower == "canonical.customer":
        context["customer_id"] = record.pk
    if context["customer_id"] is None:
        project = data.get("project")
        code = project.get("code") if isinstance(project, dict) else project
        if isinstance(data.get("customer"), str):
            context["customer_id"] = (
                Customer.objects.filter(number=data["customer"])
                .values_list("pk", flat=True)
                .first()
            )
        elif isinstance(code, str):
            found = (
                Project.objects.filter(code=code).values("customer_id", "legal_entity_id").first()
            )
            context.update(found or {})
    if context["legal_entity_id"] is None and isinstance(data.get("legal_entity"), str):
        context["legal_entity_id"] = (
            LegalEntity.objects.filter(code=data["legal_entity"])
            .values_list("pk", flat=True)
            .first()
        )
    return context


def exception_close(
    *,
    exception: ExceptionRecord,
    status: ExceptionStatus,
    actor: Any,
    text: str,
    by_fix: bool = False,
) -> list[Transaction]:
    """Closes an open exception: the one way any exception closes.

    ``resolved`` sends the transactions it holds back to work; ``dismissed`` cancels them
    with ``text`` as the reason. ``actor`` is the person who closed it, or None when the
    engine closed it because its cause was fixed (``by_fix``). Call inside a transaction,
    with the exception locked; returns the transactions released.
    """
    previous = exception.status
    exception.status = status
    exception.resolved_at = timezone.now()
    exception.resolved_by = actor if getattr(actor, "is_authenticated", False) else None
    exception.resolution = text
    exception.save(
        update_fields=["status", "resolved_at", "resolved_by", "resolution", "updated_at"]
    )
    if status == ExceptionStatus.RESOLVED:
        released = _held_rerun(exception)
    else:
        released = _held_cancel(exception, reason=text)
    figures_changed()
    exception_closed.send(
        sender=ExceptionRecord,
        exception=exception,
        actor=actor,
        text=text,
        by_fix=by_fix,
        previous_status=previous,
        released=released,
    )
    return released


def exception_approved(exception: ExceptionRecord | None, exception_type: str) -> bool:
    """Whether ``exception`` is an exception of ``exception_type`` that a person approved
    (what a flow that re-runs after an approval asks)."""
    return bool(
        exception is not None and exception.exception_type == exception_type and exception.approved
    )


def exceptions_clear(*, waiting_on: str | Sequence[str], resolution: str) -> int:
    """The missing record ``waiting_on`` arrived (or changed, for each of several keys):
    close what waited on it and re-run its work.

    Returns how many exceptions were resolved. Call inside the transaction that
    stored the record, so the re-runs are sent only if it commits.
    """
    keys = [waiting_on] if isinstance(waiting_on, str) else list(waiting_on)
    return exceptions_resolve_by_fix(
        ExceptionRecord.objects.filter(waiting_on__in=keys), resolution=resolution
    )


def exceptions_resolve_by_fix(
    exceptions: models.QuerySet[ExceptionRecord], *, resolution: str
) -> int:
    """Resolves the open ones of ``exceptions``, whose cause is gone, and re-runs what they held.

    No person did it: the operations layer records it as resolved by the fix. Call
    inside a transaction. Returns how many were resolved.
    """
    resolved = list(exceptions.select_for_update().filter(status__in=OPEN_STATUSES))
    for exc in resolved:
        exception_close(
            exception=exc,
            status=ExceptionStatus.RESOLVED,
            actor=None,
            text=resolution,
            by_fix=True,
        )
    return len(resolved)


def _held_rerun(exception: ExceptionRecord) -> list[Transaction]:
    """Sends the transactions ``exception`` holds back to work."""
    parked = list(
        Transaction.objects.select_for_update(of=("self",))
        .filter(exception_id=exception.pk, state__in=HELD_STATES)
        .select_related("flow")
        .order_by("pk")  # ascending, as every lock of many transactions: no deadlock
    )
    transactions_requeue(transactions=parked)
    return parked


def _held_cancel(exception: ExceptionRecord, *, reason: str) -> list[Transaction]:
    """Cancels the transactions ``exception`` holds, with the reason."""
    held = list(
        Transaction.objects.select_for_update(of=("self",))
        .filter(exception_id=exception.pk, state__in=HELD_STATES)
        .order_by("pk")
    )
    now = timezone.now()
    for tx in held:
        tx.state = TransactionState.CANCELLED
        tx.finished_at = now
        tx.next_attempt_at = None
        tx.last_error = f"Cancelled with exception {exception.pk}: {reason}"
    Transaction.objects.bulk_update(held, ["state", "finished_at", "next_attempt_at", "last_error"])
    return held


def _linked(model: str, key: str) -> bool:
    """Whether a Harvest cross-reference (``HARVEST-42``) is linked to a record of ``model``."""
    return key.startswith(HARVEST_REF_PREFIX) and (
        SyncState.objects.filter(
            content_type__model=model, external_id=key.removeprefix(HARVEST_REF_PREFIX)
        ).exists()
    )


def _in_its_erp(project_code: str) -> bool:
    """Whether the ERP that owns the project's legal entity holds the project (a copy in
    an ERP that no longer owns it does not count: the work would block again)."""
    project = Project.objects.select_related("legal_entity").filter(code=project_code).first()
    if project is None:
        return False
    held = SyncState.objects.filter(
        content_type__model="project", object_id=project.pk, system__kind="erp"
    )
    owner = erp_for_or_none(project.legal_entity.code)
    return (held.filter(system=owner) if owner is not None else held).exists()


def _dates_fit(key: str) -> bool:
    """Whether the assignment parked on ``key`` (``project_dates:<PROJECT>:<ASSIGNMENT>``)
    fits its project's dates as they are now (changed in the admin, say)."""
    exc = ExceptionRecord.objects.filter(waiting_on=key, status__in=OPEN_STATUSES).first()
    details = exc.details if exc is not None else {}
    project = Project.objects.select_related("contract").filter(code=details.get("project")).first()
    if project is None or not details.get("start_date"):
        return False
    return assignment_dates_fit(
        project=project,
        start_date=date.fromisoformat(details["start_date"]),
        end_date=date.fromisoformat(details["end_date"]) if details.get("end_date") else None,
    )


def _terms_resolve(invoice_number: str) -> bool:
    """Whether the approved invoice ``invoice_number`` has its bill-to, tax code and payment
    terms now, all accepted (a customer or accepted code changed in the admin, say)."""
    invoice = (
        Invoice.objects.select_related("project__contract", "legal_entity")
        .filter(number=invoice_number, status=InvoiceStatus.APPROVED)
        .first()
    )
    if invoice is None:
        return False
    try:
        invoice_billing_terms(invoice=invoice)
    except RuleViolation:
        return False
    return True


def _present(kind: str, parts: list[str]) -> bool:
    """Whether what a ``waiting_on`` key waits for holds now: the record is there, or is
    in the state the rule needs (``project_active``, ``project_hold``, ``customer_hold``).

    A kind with no check here (``project_rates``) is cleared only by the event that can
    change it; a check that merely found the record would re-run work that blocks again.
    """
    checks = {
        "legal_entity": lambda: LegalEntity.objects.filter(code=parts[0], active=True).exists(),
        "customer": lambda: Customer.objects.filter(number=parts[0]).exists(),
        "resource": lambda: Resource.objects.filter(employee_number=parts[0], active=True).exists()
        or _linked("resource", parts[0]),
        "project": lambda: Project.objects.filter(code=parts[0]).exists()
        or _linked("project", parts[0]),
        "project_active": lambda: Project.objects.filter(
            code=parts[0], status=ProjectStatus.ACTIVE
        ).exists(),
        "project_hold": lambda: Project.objects.filter(code=parts[0], billing_hold=False).exists(),
        "customer_hold": lambda: Customer.objects.filter(
            number=parts[0], billing_hold=False
        ).exists(),
        "contract_project": lambda: Project.objects.filter(contract__number=parts[0]).exists(),
        "contract_signed": lambda: Contract.objects.filter(number=parts[0]).exists(),
        "erp_project": lambda: _in_its_erp(parts[0]),
        "erp_route": lambda: ErpRoute.objects.filter(legal_entity__code=parts[0]).exists(),
        "rate_card": lambda: RateCard.objects.filter(code=parts[0]).exists()
        if len(parts) == 1
        else RateCard.objects.filter(code=parts[0], lines__role__iexact=parts[1]).exists(),
        "assignment": lambda: Assignment.objects.filter(
            Q(project__code=parts[0]) & Q(resource__employee_number=parts[1])
        ).exists(),
        "project_dates": lambda: _dates_fit(":".join([kind, *parts])),
        INVOICE_TERMS_WAIT: lambda: _terms_resolve(parts[0]),
    }
    check = checks.get(kind)
    return bool(check and check())


RECHECKABLE = (
    "legal_entity",
    "customer",
    "resource",
    "project",
    "project_active",
    "project_hold",
    "customer_hold",
    "contract_project",
    "contract_signed",
    "erp_project",
    "erp_route",
    "rate_card",
    "assignment",
    "project_dates",
    INVOICE_TERMS_WAIT,
)


def exception_recheck_key(*, waiting_on: str, resolution: str) -> int:
    """Whether what ``waiting_on`` waits for holds now (a person fixed it where it lives);
    if it does, resolves what waited on it and re-runs its work. Returns how many exceptions
    were resolved: 0 when it is still missing. Call inside a transaction."""
    kind, *parts = waiting_on.split(":")
    if not parts or not _present(kind, parts):
        return 0
    return exceptions_clear(waiting_on=waiting_on, resolution=resolution)


def exceptions_recheck(*, limit: int = 500) -> int:
    """Resolves open exceptions whose missing record is there now; returns how many.

    The arrival of a record clears what waits on it at once; this sweep also catches
    a record fixed by a person in the admin, and a wait raised in the instant after
    its record arrived (two workers racing).
    """
    keys = (
        ExceptionRecord.objects.filter(status__in=OPEN_STATUSES)
        .exclude(waiting_on="")
        .values_list("waiting_on", flat=True)
        .distinct()[:limit]
    )
    resolved = 0
    for key in list(keys):
        kind, *parts = key.split(":")
        if _present(kind, parts):
            with transaction.atomic():
                resolved += exceptions_clear(
                    waiting_on=key, resolution=f"{key.replace(':', ' ', 1)} is there now (recheck)."
                )
    return resolved
