"""Sync state: where each canonical record stands in each connected system."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from integrations.choices import Outcome, SyncOutcome
from integrations.models import ConnectedSystem, SyncState

if TYPE_CHECKING:
    from integrations.models import Transaction


def content_hash(content: Any) -> str:
    return hashlib.sha256(
        json.dumps(content, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()


def sync_state_record(
    *,
    record: models.Model,
    system: ConnectedSystem,
    external_id: str,
    version: int | None,
    content: Any,
    outcome: str,
    transaction: Transaction | None,
) -> SyncState | None:
    """Notes that ``system`` holds ``record`` at ``version``. A stale event changes nothing."""
    if outcome == Outcome.STALE:
        return None
    state, _ = SyncState.objects.update_or_create(
        content_type=ContentType.objects.get_for_model(record),
        object_id=record.pk,
        system=system,
        defaults={
            "external_id": str(external_id)[:100],
            "last_version": version,
            "content_hash": content_hash(content),
            "synced_at": timezone.now(),
            "outcome": SyncOutcome.SYNCED,
            "last_transaction": transaction,
        },
    )
    return state


def sync_state_from_sender(
    *, tx: Transaction, record: models.Model, outcome: str, key: str, version: int | None = None
) -> SyncState | None:
    """Notes that the system that sent ``tx`` holds ``record`` (its id there: the event's
    ``external_id``, else ``key``) at the event's version, or at ``version`` when given."""
    data = tx.normalized["data"]
    return sync_state_record(
        record=record,
        system=tx.source_system,
        external_id=data.get("external_id") or key,
        version=tx.event_version if version is None else version,
        content=data,
        outcome=outcome,
        transaction=tx,
    )
