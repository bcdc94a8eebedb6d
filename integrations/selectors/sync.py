"""Reads of sync state: where a canonical record stands in each connected system, and
which system the tower writes records of a kind to."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet

from integrations.choices import (
    ErrorClass,
    ExceptionType,
)
from integrations.errors import IntegrationError
from integrations.models import (
    ConnectedSystem,
    SyncState,
)


def sync_state_list() -> QuerySet[SyncState]:
    return SyncState.objects.select_related("system", "content_type")


def target_system(kind: str) -> ConnectedSystem:
    """The enabled system of ``kind`` the tower writes to (the first by slug with a base URL)."""

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
    return SyncState.objects.filter(
        content_type=ContentType.objects.get_for_model(record), object_id=record.pk, system=system
    ).first()


def holds_version(state: SyncState | None, record) -> bool:
    """Whether ``state`` (a record's sync state in one system) shows the system holding
    ``record`` at its current version."""
    return bool(state and state.outcome == "synced" and (state.last_version or 0) >= record.version)
