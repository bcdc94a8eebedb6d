"""People's actions on pollers: an admin changes how one runs, an operator runs one now.
Both are audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from canonical.errors import ApplicationError, ConflictError, NotFoundError
from controltower.operations.services.audit import audit_record
from integrations.models import Poller
from integrations.services.polling import PollRun, poller_run

# What an admin may change, and the bounds of each number.
CHANGEABLE = ("enabled", "interval_seconds", "overlap_seconds", "page_size", "cursor")
BOUNDS = {
    "interval_seconds": (10, 7 * 24 * 3600),
    "overlap_seconds": (0, 7 * 24 * 3600),
    "page_size": (1, 1000),
}


def _poller(poller_id: int) -> Poller:
    poller = Poller.objects.select_related("system").filter(pk=poller_id).first()
    if poller is None:
        raise NotFoundError(f"Poller {poller_id} does not exist.")
    return poller


def _state(poller: Poller) -> dict[str, Any]:
    state = {name: getattr(poller, name) for name in CHANGEABLE}
    state["cursor"] = poller.cursor.isoformat() if poller.cursor else None
    return state


def poller_change(
    *, poller_id: int, actor: Any, changes: dict[str, Any], reason: str = ""
) -> Poller:
    """An admin changes a poller: enabled, interval, overlap window, page size, or moves its
    cursor (back, to read again from a date; empty, to read everything)."""
    unknown = sorted(set(changes) - set(CHANGEABLE))
    if unknown:
        raise ApplicationError(
            f"A poller's {', '.join(unknown)} cannot be changed.",
            errors={name: ["Not changeable."] for name in unknown},
        )
    errors = {
        name: [f"From {low} to {high}."]
        for name, (low, high) in BOUNDS.items()
        if name in changes and not low <= changes[name] <= high
    }
    cursor = changes.get("cursor")
    if cursor is not None and not isinstance(cursor, datetime):
        errors["cursor"] = ["An ISO 8601 date-time, or null to read everything."]
    if errors:
        raise ApplicationError("The poller was not changed.", errors=errors)
    with transaction.atomic():
        poller = (
            Poller.objects.select_for_update()
            .select_related("system")
            .get(pk=_poller(poller_id).pk)
        )
        before = _state(poller)
        for name, value in changes.items():
            setattr(poller, name, value)
        poller.save()
        audit_record(
            actor=actor,
            action="poller.change",
            obj=poller,
            before=before,
            after=_state(poller),
            reason=reason,
        )
    return poller


def poller_run_now(*, poller_id: int, actor: Any, reason: str = "") -> PollRun:
    """An operator runs a poller now, outside its schedule; the outcome is audited."""
    poller = _poller(poller_id)
    run = poller_run(poller_id=poller.pk)
    if run is None:
        raise ConflictError(
            f"The {poller} is running already; its outcome shows when that run ends.",
            errors={"poller": ["Running."]},
        )
    audit_record(
        actor=actor,
        action="poller.run",
        obj=poller,
        after={
            "ok": run.ok,
            "received": run.received,
            "stored": run.stored,
            "refused": run.refused,
            "error": run.error,
        },
        reason=reason,
    )
    return run
