"""Pushing a canonical record to another system, once per version."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db import models, transaction

from integrations.choices import Outcome
from integrations.clients.transport import match_only_var
from integrations.selectors.sync import holds_version, sync_state_for
from integrations.services.locks import push_lock
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
    or None (a create) and returns the id; a create looks the record up first (or upserts
    it by its external id), so an answer lost in transit never makes a second one.

    One worker at a time pushes a record to a system (``push_lock``), from reading its
    sync state to writing it: a second worker that pushes the same record meanwhile (a
    customer's contracts signed together, a redelivered event) waits, then finds the
    record held and creates nothing. No database transaction is open during the call;
    the sync state is written after it, in a short transaction of its own.

    Work that asks for no pushes (an import of history the other systems already hold)
    only finds the record there, by the key a create would use, and records the sync state.
    """
    state = sync_state_for(record, system)
    if holds_version(state, record):
        return state.external_id
    with push_lock(system_id=system.pk, record_label=record._meta.label_lower, record_id=record.pk):
        state = sync_state_for(record, system)  # again: another worker may have just pushed it
        if holds_version(state, record):
            return state.external_id
        token = match_only_var.set(not pushes_wanted(tx))
        try:
            external_id = external_id_of(state.external_id if state and state.external_id else None)
        finally:
            match_only_var.reset(token)
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


def pushes_wanted(tx: Transaction | None) -> bool:
    """False for the transaction of an import row run with downstream pushes off (its
    payload says so, as the import stored it)."""
    payload = tx.payload if tx is not None else None
    marker = payload.get("import") if isinstance(payload, dict) else None
    return not (isinstance(marker, dict) and "job" in marker and marker.get("push") is False)


def create_key(system: ConnectedSystem, record_type: str, key: str) -> str:
    """The idempotency key of creating ``record_type`` ``key`` in ``system``: the same on
    every try and from every worker, so a system that honours keys creates it once (a
    UUID, the form most systems that take one ask for)."""
    return str(
        uuid.uuid5(
            uuid.NAMESPACE_URL, f"integration-control-tower:{system.slug}:{record_type}:{key}"
        )
    )
