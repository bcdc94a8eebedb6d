"""People's actions on a system's field mappings: an admin saves a draft, tries it on
payloads, and publishes it. Saving and publishing are audited with the document before and
after; trying stores nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from canonical.errors import NotFoundError
from controltower.operations.services.audit import audit_record
from integrations.choices import MappingStatus
from integrations.models import ConnectedSystem, FieldMapping
from integrations.services.mappings import (
    Preview,
    mapping_draft_save,
    mapping_in_force,
    mapping_preview,
    mapping_publish,
    mapping_published,
)


def _system(slug: str) -> ConnectedSystem:
    system = ConnectedSystem.objects.filter(slug=slug).first()
    if system is None:
        raise NotFoundError(f"System {slug!r} does not exist.")
    return system


def _draft(system: ConnectedSystem, record_type: str) -> FieldMapping | None:
    return FieldMapping.objects.filter(
        system=system, record_type=record_type, status=MappingStatus.DRAFT
    ).first()


def mapping_draft_set(
    *, slug: str, record_type: str, document: Any, note: str = "", actor: Any
) -> FieldMapping:
    """Saves the draft of a system's mapping of ``record_type`` (refused, naming each fault,
    when the document cannot be used)."""
    system = _system(slug)
    with transaction.atomic():
        before = _draft(system, record_type)
        draft = mapping_draft_save(
            system=system, record_type=record_type, document=document, note=note, actor=actor
        )
        audit_record(
            actor=actor,
            action="mapping.draft_saved",
            obj=system,
            before={"version": before.version, "document": before.document} if before else None,
            after={
                "record_type": record_type,
                "version": draft.version,
                "document": draft.document,
                "note": draft.note,
            },
        )
    return draft


@dataclass(frozen=True)
class Published:
    mapping: FieldMapping
    replaced: int  # the version it replaced (0: the default)
    released: int  # the exceptions that waited for it and run again


def mapping_draft_publish(
    *, slug: str, record_type: str, actor: Any, reason: str = ""
) -> Published:
    """Publishes the draft: from now on the system's records of ``record_type`` are read with
    it, and the work that waited for a better mapping runs again."""
    system = _system(slug)
    with transaction.atomic():
        draft = _draft(system, record_type)
        if draft is None:
            raise NotFoundError(
                f"{system.name} has no draft of its {record_type} mapping to publish; save one."
            )
        before, released = mapping_publish(mapping=draft)
        audit_record(
            actor=actor,
            action="mapping.published",
            obj=system,
            before={"version": before.version if before else 0},
            after={"record_type": record_type, "version": draft.version, "released": released},
            reason=reason,
        )
    return Published(draft, before.version if before else 0, released)


def mapping_try(
    *,
    slug: str,
    record_type: str,
    document: Any,
    sample: str = "",
    transaction_ids: list[int] | None = None,
) -> list[Preview]:
    """What ``document`` makes of a pasted sample and of received transactions."""
    system = _system(slug)
    return mapping_preview(
        system=system,
        record_type=record_type,
        document=document,
        sample=sample.encode() if sample else None,
        transaction_ids=transaction_ids,
    )


@dataclass(frozen=True)
class MappingState:
    """One record type of a system: the mapping in force, the draft, every version."""

    record_type: str
    version: int  # in force; 0: the default
    document: dict[str, Any]
    draft: FieldMapping | None
    versions: list[FieldMapping]


def mapping_state(*, system: ConnectedSystem, record_type: str) -> MappingState:
    field_map, version = mapping_in_force(system, record_type)
    published = mapping_published(system, record_type)
    return MappingState(
        record_type=record_type,
        version=version,
        document=published.document if published else field_map.document,
        draft=_draft(system, record_type),
        versions=list(
            FieldMapping.objects.filter(system=system, record_type=record_type)
            .select_related("created_by")
            .order_by("-version")
        ),
    )
