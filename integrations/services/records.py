"""Reading the copies other systems hold of a canonical record, for the record view."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType

from integrations.clients.copies import RemoteCopy, remote_copy_read
from integrations.models import SyncState
from integrations.selectors.records import record_kind_of, remote_map_of, sent_by_itself


def record_copies_read(*, record: Any) -> dict[int, RemoteCopy]:
    """Each system's copy of ``record``, by system id, read over its API now: the systems
    the tower writes the record to (the ERP, the PSA) and knows its id in."""
    kind = record_kind_of(record)
    if kind is None:
        return {}
    states = SyncState.objects.filter(
        content_type=ContentType.objects.get_for_model(record), object_id=record.pk
    ).select_related("system", "last_transaction")
    return {
        state.system_id: remote_copy_read(
            system=state.system,
            erp_record=kind.erp_record,
            psa_collection=kind.psa_collection,
            label=kind.label,
            external_id=state.external_id,
        )
        for state in states
        if state.external_id and remote_map_of(kind, state.system) and not sent_by_itself(state)
    }
