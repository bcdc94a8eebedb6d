"""Pushing a canonical record to another system, once per version."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db import models, transaction

from integrations.choices import Outcome
from integrations.selectors.sync import holds_version, sync_state_for
from integrations.services.sync import sync_state_record

if TYPE_CHECKING:
    from integrations.models import ConnectedSystem, Transaction


def push(
    tx: Transaction,
    record: models.Model,
    system: ConnectedSystem,
    *,
    content: dict[str, Any],
    external_id_of: Callable[[str | None], str],
) -> str:
    """Sends ``record`` to ``system`` unless it already holds this version; returns its id there.

    ``external_id_of`` gets the record's id in that system when it has one (an update)
    or None (a create) and returns the id. No database transaction is open during
    the call; the sync state is written after it, in a short transaction of its own.
    """
    state = sync_state_for(record, system)
    if holds_version(state, record):
        return state.external_id
    external_id = external_id_of(state.external_id if state and state.external_id else None)
    with transaction.atomic():
        sync_state_record(
            record=record,
            system=system,
            external_id=external_id,
            version=record.version,
            content=content,
            outcome=Outcome.APPLIED,
            transaction=tx,
        )
    return external_id
