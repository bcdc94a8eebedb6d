"""Sign-in lockouts (django-axes counts the failures): an admin lifts one, audited."""

from __future__ import annotations

from typing import Any

from axes.models import AccessAttempt
from django.db import transaction
from django.db.models import Q

from canonical.errors import ApplicationError
from controltower.operations.services.audit import audit_record


def login_lockout_lift(
    *, actor: Any, username: str = "", ip_address: str = "", reason: str = ""
) -> int:
    """Forgets the failed sign-ins of a user name and of an address, so that both may sign in
    again at once; returns how many attempt records were removed."""
    if not username and not ip_address:
        raise ApplicationError(
            "Name the user name or the address whose lockout to lift.",
            errors={"username": ["A user name or an address is needed."]},
        )
    match = Q(pk__in=[])
    if username:
        match |= Q(username=username)
    if ip_address:
        match |= Q(ip_address=ip_address)
    with transaction.atomic():
        attempts = AccessAttempt.objects.select_for_update().filter(match)
        before = [
            {
                "username": attempt.username,
                "ip_address": attempt.ip_address,
                "failures": attempt.failures_since_start,
                "last_attempt": attempt.attempt_time.isoformat(),
            }
            for attempt in attempts.order_by("pk")
        ]
        removed, _ = attempts.delete()
        audit_record(
            actor=actor,
            action="login_lockout.lift",
            object_type="axes.accessattempt",
            object_id=username or ip_address,
            object_repr=" / ".join(part for part in (username, ip_address) if part),
            before=before,
            after=[],
            reason=reason,
        )
    return removed
