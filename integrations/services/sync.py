"""Sync state: where each canonical record stands in each connected system."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from canonical.choices import RuleCode
from canonical.errors import ConflictError, RuleViolation
from canonical.models import Customer, Project, Resource
from integrations.adapters import adapter_for
from integrations.choices import Outcome, SyncOutcome
from integrations.models import ConnectedSystem, SyncState
from integrations.services.exceptions import exceptions_clear, waiting_key

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
    keep_external_id: bool = False,
    source_version: int | None = None,
) -> SyncState | None:
    """Notes that ``system`` holds ``record`` at ``version``. A stale event changes nothing.

    ``keep_external_id``: ``external_id`` is only a stand-in (a business key), so a state
    that already names the system's own id keeps it. ``source_version``: the system's own
    version of the record, when the system sent it.
    """
    if outcome == Outcome.STALE:
        return None
    identity = {"external_id": str(external_id)[:100]}
    observed = {
        "last_version": version,
        "content_hash": content_hash(content),
        "synced_at": timezone.now(),
        "outcome": SyncOutcome.SYNCED,
        "last_transaction": transaction,
    }
    if source_version is not None:
        observed["source_version"] = source_version
    state, _ = SyncState.objects.update_or_create(
        content_type=ContentType.objects.get_for_model(record),
        object_id=record.pk,
        system=system,
        defaults=observed if keep_external_id else {**identity, **observed},
        create_defaults={**identity, **observed},
    )
    return state


def outcome_for_retry(*, tx: Transaction, record: models.Model, outcome: str) -> str:
    """``applied`` when ``tx`` finds its own earlier write (a retry after the canonical
    write committed but a push failed), else ``outcome``. Call before this run's
    ``sync_state_from_sender``, which would make every record look like its own."""
    if outcome != Outcome.UNCHANGED or tx.source_system_id is None:
        return outcome
    state = SyncState.objects.filter(
        content_type=ContentType.objects.get_for_model(record),
        object_id=record.pk,
        system_id=tx.source_system_id,
        last_transaction_id=tx.pk,
    )
    return Outcome.APPLIED if state.exists() else outcome


def sync_state_from_sender(
    *, tx: Transaction, record: models.Model, outcome: str, key: str, version: int | None = None
) -> SyncState | None:
    """Notes that the system that sent ``tx`` holds ``record`` at the event's version, or at
    ``version`` (the canonical one) when given, and that the event's version is the
    system's own. Its id there is the event's ``external_id``; an event without one leaves
    the id the system is already known by (the one it answered when the tower created the
    record there), and names a new state by ``key``."""
    data = tx.normalized["data"]
    return sync_state_record(
        record=record,
        system=tx.source_system,
        external_id=data.get("external_id") or key,
        version=tx.event_version if version is None else version,
        content=data,
        outcome=outcome,
        transaction=tx,
        keep_external_id=not data.get("external_id"),
        source_version=tx.event_version,
    )


def sync_states_from_sender(*, synced: list[tuple[Transaction, models.Model, str]]) -> None:
    """``sync_state_from_sender`` for many records of one model at once, each with the
    transaction that brought it and its key: a few statements, whatever their number."""
    if not synced:
        return
    now = timezone.now()
    content_type = ContentType.objects.get_for_model(synced[0][1])
    system_id = synced[0][0].source_system_id
    states = {
        s.object_id: s
        for s in SyncState.objects.select_for_update().filter(
            content_type=content_type,
            system_id=system_id,
            object_id__in=[record.pk for _, record, _ in synced],
        )
    }
    new_states: list[SyncState] = []
    for tx, record, key in synced:
        data = tx.normalized["data"]
        state = states.get(record.pk)
        # An event without its own id keeps the id the system is known by.
        known = state.external_id if state is not None else ""
        fields = {
            "external_id": str(data.get("external_id") or known or key)[:100],
            "last_version": tx.event_version,
            "source_version": tx.event_version,
            "content_hash": content_hash(data),
            "synced_at": now,
            "outcome": SyncOutcome.SYNCED,
            "last_transaction": tx,
        }
        if state is None:
            new_states.append(
                SyncState(
                    content_type=content_type, object_id=record.pk, system_id=system_id, **fields
                )
            )
        else:
            for name, value in fields.items():
                setattr(state, name, value)
    SyncState.objects.bulk_create(new_states)
    if states:
        SyncState.objects.bulk_update(
            list(states.values()),
            [
                "external_id",
                "last_version",
                "source_version",
                "content_hash",
                "synced_at",
                "outcome",
                "last_transaction",
            ],
        )


@dataclass(frozen=True)
class Linkable:
    """A kind of record a sending system may name by its own id: the model, its business
    key, and the rule code of an id nobody linked yet."""

    model: type[models.Model]
    key_field: str
    code: str
    what: str  # "user", "project": the thing in the sending system
    key_label: str  # the key as a person names it: "employee number"


LINKABLE = {
    "resource": Linkable(
        Resource, "employee_number", RuleCode.UNKNOWN_RESOURCE, "user", "employee number"
    ),
    "project": Linkable(Project, "code", RuleCode.UNKNOWN_PROJECT, "project", "project code"),
    "customer": Linkable(
        Customer, "number", RuleCode.UNKNOWN_CUSTOMER, "account", "customer number"
    ),
}


def ref_prefix_of(system: ConnectedSystem) -> str:
    """The prefix of ``system``'s cross-references (``HARVEST-``), or "" when it names
    records by the tower's keys."""
    try:
        return getattr(adapter_for(system), "ref_prefix", "")
    except LookupError:
        return ""


def key_for_external_id(*, system: ConnectedSystem, kind: str, key: str) -> str:
    """The business key a sender's cross-reference stands for (``HARVEST-42`` → ``E-0042``
    for a resource, ``HARVEST-14308069`` → ``P-1051`` for a project).

    Systems that name records only by their own ids (Harvest) prefix them; the record
    they mean is the one whose sync state in that system holds the id. A key without the
    sender's prefix is the tower's own key already. Raises the kind's ``unknown_*`` rule
    violation, waiting on the key, while nobody has linked the id.
    """
    prefix = ref_prefix_of(system)
    if not prefix or not key.upper().startswith(prefix):
        return key
    linkable = LINKABLE[kind]
    external_id = key[len(prefix) :]
    record_id = linked_record_id(system=system, kind=kind, external_id=external_id)
    found = (
        linkable.model.objects.filter(pk=record_id).values_list(linkable.key_field, flat=True)
        if record_id
        else []
    )
    if not found:
        raise unlinked(system=system, kind=kind, external_id=external_id)
    return found[0]


def linked_record_id(*, system: ConnectedSystem, kind: str, external_id: str) -> int | None:
    """The id of the record of ``kind`` linked to ``system``'s id ``external_id``, if any."""
    return (
        SyncState.objects.filter(
            content_type=ContentType.objects.get_for_model(LINKABLE[kind].model),
            system=system,
            external_id=external_id,
        )
        .values_list("object_id", flat=True)
        .first()
    )


def unlinked(
    *, system: ConnectedSystem, kind: str, external_id: str, why: str = ""
) -> RuleViolation:
    """The rule violation of a sender's id linked to no record of ``kind``, waiting for
    the link; ``why``: what the tower tried, said after the first clause."""
    linkable = LINKABLE[kind]
    prefix = ref_prefix_of(system)
    return RuleViolation(
        message=f"{system.name} {linkable.what} {external_id} is linked to no {kind}{why}; pick "
        f"the {kind} on this exception (or link the id on the {kind}'s page or through the "
        "API) and the work waiting on it runs.",
        code=linkable.code,
        details={"system": system.slug, "external_id": external_id},
        waiting_on=waiting_key(kind, f"{prefix}{external_id}"),
    )


@dataclass(frozen=True)
class LinkPick:
    """What an exception waiting for a cross-reference needs: which kind of record, in which
    system, under which of its ids."""

    kind: str
    system_slug: str
    external_id: str
    what: str
    system_name: str
    key_label: str  # what a person picks the record by: "employee number"


def link_pick_of(exc: Any) -> LinkPick | None:
    """The link an open exception waits for (``resource:HARVEST-42``), if it waits for one."""
    kind = (exc.waiting_on or "").partition(":")[0]
    details = exc.details or {}
    if kind not in LINKABLE or not details.get("system") or not details.get("external_id"):
        return None
    slug = str(details["system"])
    linkable = LINKABLE[kind]
    return LinkPick(
        kind=kind,
        system_slug=slug,
        external_id=str(details["external_id"]),
        what=linkable.what,
        system_name=ConnectedSystem.objects.filter(slug=slug).values_list("name", flat=True).first()
        or slug,
        key_label=linkable.key_label,
    )


def record_link_record(
    *, record: models.Model, system: ConnectedSystem, external_id: str
) -> tuple[SyncState, str | None]:
    """Records ``record``'s id in ``system`` (a system that names records by its own ids)
    and runs the work that waited for the link; returns the sync state and the id it held
    before. Call inside a transaction.

    Refuses an id already linked to another record of the kind.
    """
    kind = record._meta.model_name
    content_type = ContentType.objects.get_for_model(record)
    taken = (
        SyncState.objects.filter(content_type=content_type, system=system, external_id=external_id)
        .exclude(object_id=record.pk)
        .first()
    )
    if taken is not None:
        other = type(record).objects.filter(pk=taken.object_id).first()
        raise ConflictError(
            f"{system.name} id {external_id} is already linked to {other}.",
            errors={"external_id": [f"Linked to another {kind}."]},
        )
    before = (
        SyncState.objects.filter(content_type=content_type, object_id=record.pk, system=system)
        .values_list("external_id", flat=True)
        .first()
    )
    state, _ = SyncState.objects.update_or_create(
        content_type=content_type,
        object_id=record.pk,
        system=system,
        defaults={
            "external_id": external_id,
            "synced_at": timezone.now(),
            "outcome": SyncOutcome.SYNCED,
        },
    )
    prefix = ref_prefix_of(system)
    if prefix:
        exceptions_clear(
            waiting_on=waiting_key(kind, f"{prefix}{external_id}"),
            resolution=f"{system.name} {LINKABLE[kind].what} {external_id} was linked to {record}.",
        )
    return state, before
