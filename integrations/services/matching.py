"""Finding the record a sender names by its own id, before a person has to link it.

A Harvest time entry names its user by Harvest's id only (``HARVEST-42``); the tower
knows which resource that is once the resource's Harvest sync state holds the id. For an
id nobody linked yet, the system's mapping may say how to find the record (its
``match``: read ``/v2/users/{id}`` from Harvest, take ``email``, find the resource with
that e-mail). When exactly one record has the value, and it is linked to no other id of
that system, the tower links the two, as a person would on the record's page, and the
work runs; the link is remembered in the sync state, so the next entry of that user costs
no call. Otherwise the work waits, as it did, with what was tried in the exception's
words, for a person to pick the record.

It runs before the flow's handler, outside its database transaction: the read is an
outbound call like any other (credentials, breaker, rate limit, retried when the system
does not answer; a refused credential holds the transaction as a connection exception).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction

from canonical.errors import ConflictError
from integrations.adapters.vendor import RECORD_EVENTS
from integrations.models import SyncState
from integrations.services.enrichment import record_read, system_url
from integrations.services.mappings import mapping_in_force, vendor_adapter
from integrations.services.sync import (
    LINKABLE,
    linked_record_id,
    record_link_record,
    ref_prefix_of,
    unlinked,
)

if TYPE_CHECKING:
    from integrations.adapters.mapping import Match
    from integrations.models import ConnectedSystem, Transaction

logger = logging.getLogger(__name__)

RECORD_TYPES = {event_type: record_type for record_type, event_type in RECORD_EVENTS.items()}


def references_match(tx: Transaction) -> None:
    """Links the records ``tx``'s cross-references name where the mapping says how to find
    them and nobody linked them yet. Raises the kind's ``unknown_*`` rule violation, naming
    what was tried, when a record cannot be found; a classified ``IntegrationError`` when
    the sender cannot be read."""
    record_type = RECORD_TYPES.get(tx.event_type)
    system = tx.source_system
    if record_type is None or system is None or not (prefix := ref_prefix_of(system)):
        return  # not a record a sender mapped (a re-push has no sender), or no sender's ids
    adapter = vendor_adapter(system)
    if adapter is None:
        return
    data = (tx.normalized or {}).get("data") or {}
    pending = {
        kind: value[len(prefix) :]
        for kind in adapter.ref_kinds
        if isinstance(value := data.get(kind), str) and value.upper().startswith(prefix)
    }
    if not pending:
        return
    matches = mapping_in_force(system, record_type)[0].matches
    for kind, external_id in pending.items():
        match = matches.get(kind)
        if match is None or linked_record_id(system=system, kind=kind, external_id=external_id):
            continue
        reference_match(system=system, match=match, external_id=external_id)


def reference_match(*, system: ConnectedSystem, match: Match, external_id: str) -> Any:
    """Finds and links the record ``system``'s id ``external_id`` stands for, by ``match``;
    returns the record. Raises the rule violation saying why none was linked."""
    kind = match.kind
    what = LINKABLE[kind].what

    def not_found(why: str) -> Exception:
        return unlinked(system=system, kind=kind, external_id=external_id, why=why)

    if not system.base_url:
        raise not_found(f", and {system.name} has no base URL to read its {match.source} from")
    read = record_read(system, match.path(external_id))
    if read is None:
        url = system_url(system, match.path(external_id))
        raise not_found(f", and {system.name} has no {what} {external_id} (GET {url}: 404)")
    value = match.value(read)
    if value is None or not str(value).strip():
        raise not_found(f", and its {match.source} in {system.name} is empty")
    model = LINKABLE[kind].model
    # A personal value (an e-mail) stays out of the words: exceptions are read widely.
    shown = "" if match.field in getattr(model, "data_classes", {}) else f" {value}"
    candidates = list(model.objects.filter(**{f"{match.field}__iexact": str(value).strip()})[:2])
    if not candidates:
        raise not_found(f", and no {kind} has its {match.field}{shown} from {system.name}")
    if len(candidates) > 1:
        raise not_found(f", and several {kind}s have its {match.field}{shown} from {system.name}")
    record = candidates[0]
    other = (
        SyncState.objects.filter(
            content_type=ContentType.objects.get_for_model(model),
            object_id=record.pk,
            system=system,
        )
        .exclude(external_id=external_id)
        .values_list("external_id", flat=True)
        .first()
    )
    if other:
        raise not_found(
            f"; {record} has its {match.field} from {system.name} but is linked to {what} "
            f"{other} there"
        )
    try:
        with transaction.atomic():
            record_link_record(record=record, system=system, external_id=external_id)
    except (ConflictError, IntegrityError):
        # Another worker linked the id at the same moment: the link in place is the answer.
        if not linked_record_id(system=system, kind=kind, external_id=external_id):
            raise
    logger.info(
        "%s %s %s linked to %s %s by its %s.",
        system.name,
        what,
        external_id,
        kind,
        record,
        match.field,
    )
    return record
