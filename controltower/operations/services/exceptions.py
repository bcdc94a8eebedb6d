"""The exception lifecycle: opened in its team's queue, assigned, commented, snoozed,
resolved or dismissed, reopened.

The engine raises an exception (``integrations.services.exceptions.exception_raise``);
``exception_case_open`` puts it in its owning team's queue with its SLA due time at once.
Open → in progress (assigned to a person) → resolved or dismissed; reopened when
needed. Every close, by a person here or by the engine when the cause is fixed, goes
through the engine's one ``exception_close``: resolving re-runs the transactions the
exception holds, dismissing cancels them with the reason. ``exception_closed_record``
writes down what every close means here. Every step is audited with its before and
after.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from canonical.errors import ApplicationError, InvalidStateError, NotFoundError
from controltower.operations.models import BusinessException, ExceptionComment, Team
from controltower.operations.services.audit import audit_record
from controltower.operations.services.notices import notice_notify
from controltower.operations.services.routing import exception_route
from controltower.operations.services.sla import exception_sla_judge
from integrations.choices import OPEN_STATUSES, ExceptionStatus
from integrations.exception_types import APPROVAL_TYPES
from integrations.live import figures_changed
from integrations.models import ExceptionRecord, Transaction
from integrations.services.exceptions import exception_close


def locked_exception(exception_id: int) -> BusinessException:
    exc = BusinessException.objects.select_for_update().filter(pk=exception_id).first()
    if exc is None:
        raise NotFoundError(f"Exception {exception_id} does not exist.")
    return exc


def exception_state(exc: BusinessException) -> dict[str, Any]:
    return {
        "status": exc.status,
        "team": exc.team_id,
        "assignee": exc.assignee_id,
        "snoozed_until": exc.snoozed_until.isoformat() if exc.snoozed_until else None,
    }


def ensure_open(exc: BusinessException, verb: str) -> None:
    if exc.status not in OPEN_STATUSES:
        raise InvalidStateError(
            f"Exception {exc.pk} is {exc.status}; only open exceptions can be {verb}.",
            errors={"status": [exc.status]},
        )


def required_text(text: str, what: str) -> str:
    if not (text or "").strip():
        raise ApplicationError(f"{what} is required.", errors={"reason": ["Required."]})
    return text.strip()


def exception_case_open(*, record: ExceptionRecord) -> BusinessException:
    """Opens the engine's new exception ``record`` in its owning team's queue, with the time
    it is due by (under the one SLA policy that judges it, on the team's calendar).

    Called when the engine raises it, inside the same database transaction. A notice
    (a contract nearing its end) is also sent to the team by email and chat.
    """
    exc = BusinessException(exceptionrecord_ptr=record)
    for field in ExceptionRecord._meta.concrete_fields:
        setattr(exc, field.attname, getattr(record, field.attname))
    exception_route(exception=exc)
    exc.sla_policy, exc.sla_due_at = exception_sla_judge(
        exc, start=record.created_at or timezone.now()
    )
    # The record's row is there: insert this extension's own row only.
    exc.save_base(raw=True, force_insert=True)
    notice_notify(exception=exc)
    return exc


def exception_closed_record(
    *,
    exception: ExceptionRecord,
    actor: Any,
    text: str,
    by_fix: bool,
    previous_status: str,
    released: list[Transaction],
) -> None:
    """What a close means for the queue: a closed exception is not snoozed any more, and
    one that the engine closed because its cause was fixed is written in the audit log
    (a person's close is audited by the service that made it)."""
    BusinessException.objects.filter(pk=exception.pk).exclude(snoozed_until=None).update(
        snoozed_until=None
    )
    if isinstance(exception, BusinessException):
        exception.snoozed_until = None
    if by_fix:
        audit_record(
            actor=None,
            action="exception.resolve_by_fix",
            object_type=BusinessException._meta.label_lower,
            object_id=exception.pk,
            object_repr=str(exception),
            before={"status": previous_status},
            after={"status": exception.status, "rerun_transactions": [tx.pk for tx in released]},
            reason=text,
        )


def exception_assign(
    *,
    exception_id: int,
    actor: Any,
    assignee_id: int | None = None,
    team_id: int | None = None,
    reason: str = "",
) -> BusinessException:
    """Gives an exception to a person (it is then in progress) and/or to a team's queue."""
    if assignee_id is None and team_id is None:
        raise ApplicationError(
            "Name a person or a team to assign to.", errors={"assignee": ["Required."]}
        )
    with transaction.atomic():
        exc = locked_exception(exception_id)
        ensure_open(exc, "assigned")
        before = exception_state(exc)
        if team_id is not None:
            if not Team.objects.filter(pk=team_id).exists():
                raise ApplicationError(
                    f"Team {team_id} does not exist.", errors={"team": ["Unknown team."]}
                )
            exc.team_id = team_id
            if assignee_id is None:
                exc.assignee = None  # a hand-over to another team's queue
                exc.status = ExceptionStatus.OPEN
        if assignee_id is not None:
            assignee = get_user_model().objects.filter(pk=assignee_id, is_active=True).first()
            if assignee is None:
                raise ApplicationError(
                    f"User {assignee_id} does not exist or is inactive.",
                    errors={"assignee": ["Unknown user."]},
                )
            if not assignee.has_perm("controltower.work_businessexception"):
                raise ApplicationError(
                    f"{assignee.get_username()} cannot work exceptions (needs the operator role).",
                    errors={"assignee": ["Lacks the operator role."]},
                )
            exc.assignee = assignee
            exc.status = ExceptionStatus.IN_PROGRESS
        exc.save(update_fields=["team", "assignee", "status", "updated_at"])
        audit_record(
            actor=actor,
            action="exception.assign",
            obj=exc,
            before=before,
            after=exception_state(exc),
            reason=reason,
        )
    return exc


def exception_comment(*, exception_id: int, actor: Any, body: str) -> ExceptionComment:
    if not (body or "").strip():
        raise ApplicationError("A comment needs text.", errors={"body": ["Required."]})
    with transaction.atomic():
        exc = locked_exception(exception_id)
        comment = ExceptionComment.objects.create(exception=exc, author=actor, body=body.strip())
        exc.save(update_fields=["updated_at"])
        audit_record(
            actor=actor,
            action="exception.comment",
            obj=exc,
            after={"comment": comment.pk, "body": comment.body},
        )
    return comment


def exception_snooze(
    *, exception_id: int, actor: Any, until: datetime | None, reason: str = ""
) -> BusinessException:
    """Holds an exception out of the queue until ``until`` (None wakes it now); it is not lost."""
    if until is not None and until <= timezone.now():
        raise ApplicationError(
            "Snooze until a time in the future.", errors={"until": ["In the past."]}
        )
    with transaction.atomic():
        exc = locked_exception(exception_id)
        ensure_open(exc, "snoozed")
        before = exception_state(exc)
        exc.snoozed_until = until
        exc.save(update_fields=["snoozed_until", "updated_at"])
        audit_record(
            actor=actor,
            action="exception.snooze" if until else "exception.wake",
            obj=exc,
            before=before,
            after=exception_state(exc),
            reason=reason,
        )
    return exc


def exception_resolve(*, exception_id: int, actor: Any, resolution: str) -> BusinessException:
    """Marks an exception resolved and re-runs the transactions it held."""
    text = required_text(resolution, "A resolution")
    with transaction.atomic():
        exc = locked_exception(exception_id)
        ensure_open(exc, "resolved")
        if exc.exception_type in APPROVAL_TYPES:
            raise InvalidStateError(
                f"Exception {exc.pk} holds work for approval; an approver approves or rejects it.",
                errors={"exception_type": [exc.exception_type]},
            )
        before = exception_state(exc)
        rerun = exception_close(
            exception=exc, status=ExceptionStatus.RESOLVED, actor=actor, text=text
        )
        audit_record(
            actor=actor,
            action="exception.resolve",
            obj=exc,
            before=before,
            after={**exception_state(exc), "rerun_transactions": [tx.pk for tx in rerun]},
            reason=text,
        )
    return exc


def exception_dismiss(*, exception_id: int, actor: Any, reason: str) -> BusinessException:
    """Closes an exception as not to be fixed and cancels the transactions it held."""
    text = required_text(reason, "A reason")
    with transaction.atomic():
        exc = locked_exception(exception_id)
        ensure_open(exc, "dismissed")
        before = exception_state(exc)
        cancelled = exception_close(
            exception=exc, status=ExceptionStatus.DISMISSED, actor=actor, text=text
        )
        audit_record(
            actor=actor,
            action="exception.dismiss",
            obj=exc,
            before=before,
            after={**exception_state(exc), "cancelled_transactions": [tx.pk for tx in cancelled]},
            reason=text,
        )
    return exc


def exception_reopen(*, exception_id: int, actor: Any, reason: str) -> BusinessException:
    """Opens a resolved or dismissed exception again (unless its cause is open once more)."""
    text = required_text(reason, "A reason")
    with transaction.atomic():
        exc = locked_exception(exception_id)
        if exc.status in OPEN_STATUSES:
            raise InvalidStateError(
                f"Exception {exc.pk} is already {exc.status}.", errors={"status": [exc.status]}
            )
        twin = (
            BusinessException.objects.filter(fingerprint=exc.fingerprint, status__in=OPEN_STATUSES)
            .values_list("pk", flat=True)
            .first()
        )
        if twin:
            raise InvalidStateError(
                f"Exception {twin} is already open for the same cause; work that one.",
                errors={"status": [exc.status]},
                extra={"open_exception": twin},
            )
        before = exception_state(exc)
        exc.status = ExceptionStatus.IN_PROGRESS if exc.assignee_id else ExceptionStatus.OPEN
        exc.resolved_at = None
        exc.resolved_by = None
        exc.save(update_fields=["status", "resolved_at", "resolved_by", "updated_at"])
        figures_changed()
        audit_record(
            actor=actor,
            action="exception.reopen",
            obj=exc,
            before={**before, "resolution": exc.resolution},
            after=exception_state(exc),
            reason=text,
        )
    return exc
