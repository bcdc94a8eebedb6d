"""Four eyes: what posts money or overrides a rule needs an approver who did not prepare it.

Invoice candidates are approved in ``integrations.services.billing``; amendment
conflicts and edited replays of financial events wait in exceptions of the types in
``APPROVAL_TYPES`` and are approved or rejected here.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from rest_framework import status

from controltower.choices import APPROVAL_TYPES, ExceptionStatus
from controltower.errors import ApplicationError, InvalidStateError
from controltower.models import BusinessException
from controltower.services.audit import audit_record
from controltower.services.exceptions import (
    ensure_open,
    exception_close,
    exception_state,
    locked_exception,
    required_text,
)


class FourEyesError(ApplicationError):
    """The person who prepared an item tried to approve it."""

    status_code = status.HTTP_403_FORBIDDEN


def four_eyes_check(*, actor: Any, preparer_id: int | None, what: str) -> None:
    """Refuses an approval by the item's preparer, or by someone without the approver role."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise FourEyesError(f"Approving {what} needs a signed-in approver.")
    if preparer_id is not None and preparer_id == actor.pk:
        raise FourEyesError(
            f"You prepared {what}; a second person with the approver role must approve it.",
            errors={"approver": ["Same person as the preparer."]},
        )


def _approvable(exception_id: int, verb: str) -> BusinessException:
    exc = locked_exception(exception_id)
    ensure_open(exc, verb)
    if exc.exception_type not in APPROVAL_TYPES:
        raise InvalidStateError(
            f"Exception {exc.pk} ({exc.get_exception_type_display()}) is not waiting for an "
            "approval; resolve or dismiss it instead.",
            errors={"exception_type": [exc.exception_type]},
        )
    return exc


def exception_approve(*, exception_id: int, actor: Any, reason: str = "") -> BusinessException:
    """Approves what the exception holds (an amendment conflict, an edited replay) and runs it."""
    from integrations.services.exceptions import blocked_rerun

    with transaction.atomic():
        exc = _approvable(exception_id, "approved")
        four_eyes_check(actor=actor, preparer_id=exc.prepared_by_id, what=f"exception {exc.pk}")
        if not actor.has_perm("controltower.approve_businessexception"):
            raise FourEyesError("Approving needs the approver role.")
        before = exception_state(exc)
        exc.details = {
            **exc.details,
            "approved": {"by": actor.get_username(), "at": timezone.now().isoformat()},
        }
        exc.save(update_fields=["details", "updated_at"])
        exception_close(
            exc,
            status=ExceptionStatus.RESOLVED,
            actor=actor,
            text=f"Approved by {actor.get_username()}" + (f": {reason}" if reason else "."),
        )
        rerun = blocked_rerun(exception=exc)
        audit_record(
            actor=actor,
            action="exception.approve",
            obj=exc,
            before=before,
            after={**exception_state(exc), "rerun_transactions": [tx.pk for tx in rerun]},
            reason=reason,
        )
    return exc


def exception_reject(*, exception_id: int, actor: Any, reason: str) -> BusinessException:
    """Rejects what the exception holds: its transactions are cancelled with the reason."""
    from integrations.services.exceptions import blocked_cancel

    text = required_text(reason, "A reason")
    with transaction.atomic():
        exc = _approvable(exception_id, "rejected")
        if not actor.has_perm("controltower.approve_businessexception"):
            raise FourEyesError("Rejecting needs the approver role.")
        before = exception_state(exc)
        exception_close(
            exc, status=ExceptionStatus.DISMISSED, actor=actor, text=f"Rejected: {text}"
        )
        cancelled = blocked_cancel(exception=exc, reason=f"rejected: {text}")
        audit_record(
            actor=actor,
            action="exception.reject",
            obj=exc,
            before=before,
            after={**exception_state(exc), "cancelled_transactions": [tx.pk for tx in cancelled]},
            reason=text,
        )
    return exc


def approval_granted(exc: BusinessException | None, exception_type: str) -> bool:
    """Whether ``exc`` is an approved exception of ``exception_type`` (for the re-run handler)."""
    return bool(
        exc is not None
        and exc.exception_type == exception_type
        and exc.status == ExceptionStatus.RESOLVED
        and exc.details.get("approved")
    )
