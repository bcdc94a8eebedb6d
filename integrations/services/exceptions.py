"""Business exceptions raised by blocked transactions, and cleared when their cause is fixed."""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from controltower.choices import DEFAULT_SEVERITY, OPEN_STATUSES, ExceptionStatus, ExceptionType
from controltower.models import BusinessException
from controltower.services import audit_record
from integrations.choices import TransactionState
from integrations.errors import IntegrationError
from integrations.models import Transaction


def waiting_key(kind: str, *parts: str) -> str:
    """The key of a missing record, e.g. ``waiting_key("legal_entity", "ZZ99")``."""
    return ":".join([kind, *(str(part).strip().upper() for part in parts)])


def exception_raise(
    *, tx: Transaction, failure: IntegrationError, cause: str = ""
) -> BusinessException:
    """The open exception for this failure's cause, created or joined; call inside a transaction."""
    flow = tx.flow.kind if tx.flow_id else ""
    cause = cause or failure.waiting_on or tx.business_key or f"transaction:{tx.pk}"
    fingerprint = f"{failure.code}|{flow}|{cause}"[:300]
    money = failure.money_at_risk or Decimal("0")
    existing = (
        BusinessException.objects.select_for_update()
        .filter(fingerprint=fingerprint, status__in=OPEN_STATUSES)
        .first()
    )
    if existing is None:
        try:
            with transaction.atomic():
                return BusinessException.objects.create(
                    exception_type=failure.code
                    if failure.code in ExceptionType.values
                    else ExceptionType.OTHER,
                    severity=DEFAULT_SEVERITY.get(failure.code, "medium"),
                    flow=flow,
                    message=failure.message,
                    details={"code": failure.code, **failure.details},
                    waiting_on=failure.waiting_on,
                    fingerprint=fingerprint,
                    business_key=tx.business_key or cause[:100],
                    money_at_risk=money,
                    currency=failure.currency,
                )
        except IntegrityError:  # raised by another worker a moment ago: join it
            existing = BusinessException.objects.select_for_update().get(
                fingerprint=fingerprint, status__in=OPEN_STATUSES
            )
    existing.occurrences += 1
    existing.money_at_risk += money
    existing.save(update_fields=["occurrences", "money_at_risk", "updated_at"])
    return existing


def exceptions_clear(*, waiting_on: str, resolution: str) -> int:
    """The missing record ``waiting_on`` arrived: resolve what waited on it and re-run its work.

    Returns how many exceptions were resolved. Call inside the transaction that
    stored the record, so the re-runs are sent only if it commits.
    """
    from integrations.services.processing import transactions_enqueue

    resolved = list(
        BusinessException.objects.select_for_update().filter(
            waiting_on=waiting_on, status__in=OPEN_STATUSES
        )
    )
    now = timezone.now()
    for exc in resolved:
        exc.status = ExceptionStatus.RESOLVED
        exc.resolved_at = now
        exc.resolution = resolution
        exc.save(update_fields=["status", "resolved_at", "resolution", "updated_at"])
        parked = list(
            Transaction.objects.select_for_update(of=("self",))
            .filter(exception=exc, state=TransactionState.BLOCKED)
            .select_related("flow")
        )
        for tx in parked:
            tx.state = TransactionState.RECEIVED
            tx.retry_round_start = tx.attempts_count
            tx.finished_at = None
        Transaction.objects.bulk_update(parked, ["state", "retry_round_start", "finished_at"])
        audit_record(
            actor=None,
            action="exception.resolve_by_fix",
            obj=exc,
            before={"status": "open"},
            after={"status": "resolved", "rerun_transactions": [tx.pk for tx in parked]},
            reason=resolution,
        )
        transactions_enqueue(transactions=parked)
    return len(resolved)


def _present(kind: str, parts: list[str]) -> bool:
    """Whether the record a ``waiting_on`` key names is there now."""
    from django.db.models import Q

    from canonical.models import (
        Assignment,
        Contract,
        Customer,
        LegalEntity,
        Project,
        RateCard,
        Resource,
    )
    from integrations.models import SyncState

    checks = {
        "legal_entity": lambda: LegalEntity.objects.filter(code=parts[0], active=True).exists(),
        "customer": lambda: Customer.objects.filter(number=parts[0]).exists(),
        "resource": lambda: Resource.objects.filter(employee_number=parts[0], active=True).exists(),
        "project": lambda: Project.objects.filter(code=parts[0]).exists(),
        "contract_signed": lambda: Contract.objects.filter(number=parts[0]).exists(),
        "erp_project": lambda: SyncState.objects.filter(
            content_type__model="project",
            object_id__in=Project.objects.filter(code=parts[0]).values("pk"),
            system__kind="erp",
        ).exists(),
        "rate_card": lambda: RateCard.objects.filter(code=parts[0]).exists()
        if len(parts) == 1
        else RateCard.objects.filter(code=parts[0], lines__role__iexact=parts[1]).exists(),
        "assignment": lambda: Assignment.objects.filter(
            Q(project__code=parts[0]) & Q(resource__employee_number=parts[1])
        ).exists(),
    }
    check = checks.get(kind)
    return bool(check and check())


def exceptions_recheck(*, limit: int = 500) -> int:
    """Resolves open exceptions whose missing record is there now; returns how many.

    The arrival of a record clears what waits on it at once; this sweep also catches
    a record fixed by a person in the admin, and a wait raised in the instant after
    its record arrived (two workers racing).
    """
    keys = (
        BusinessException.objects.filter(status__in=OPEN_STATUSES)
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
