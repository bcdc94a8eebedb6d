"""Field mappings of the connected systems: the one in force, drafts and publishing, trying
a draft on payloads, and mapping again the work a mapping could not read.

A system reads its records with its published mapping of each record type, or with its
dialect's default (version 0) until an admin publishes one. Work whose business values
the mapping could not give waits on ``mapping:<SYSTEM>:<RECORD TYPE>``; publishing a
mapping of that type runs it again, mapped anew.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from canonical.errors import ApplicationError, ConflictError, NotFoundError
from integrations.adapters import EventRejected, InboundEvent, adapter_for
from integrations.adapters.mapping import FieldMap, MappingInvalid, mapping_read
from integrations.adapters.vendor import VendorAdapter, canonical_fields
from integrations.choices import ExceptionType, MappingStatus, TransactionState
from integrations.errors import IntegrationError
from integrations.models import ConnectedSystem, FieldMapping, Transaction
from integrations.services.exceptions import exceptions_clear, waiting_key

PREVIEW_MAX_EVENTS = 50


def vendor_adapter(system: ConnectedSystem) -> VendorAdapter | None:
    """The system's adapter if its records are read through a mapping."""
    adapter = adapter_for(system)
    return adapter if isinstance(adapter, VendorAdapter) else None


def mapping_waiting_key(system: ConnectedSystem, record_type: str) -> str:
    return waiting_key("mapping", system.slug, record_type)


def mapping_published(system: ConnectedSystem, record_type: str) -> FieldMapping | None:
    return FieldMapping.objects.filter(
        system=system, record_type=record_type, status=MappingStatus.PUBLISHED
    ).first()


def mapping_in_force(system: ConnectedSystem, record_type: str) -> tuple[FieldMap, int]:
    """The mapping the system's records of ``record_type`` are read with, and its version
    (0: the dialect's default)."""
    adapter = vendor_adapter(system)
    if adapter is None or record_type not in adapter.defaults:
        raise NotFoundError(f"{system.name} has no {record_type!r} records to map.")
    published = mapping_published(system, record_type)
    if published is None:
        return adapter.default_mapping(record_type), 0
    return mapping_read(published.document, fields=canonical_fields(record_type)), published.version


@dataclass
class SystemMappings:
    """The mappings in force for one system, read once per request or run; a callable of a
    record type, as the adapters take it. ``versions``: the version each type was read with."""

    system: ConnectedSystem
    versions: dict[str, int] = field(default_factory=dict)
    _maps: dict[str, FieldMap] = field(default_factory=dict)

    def __call__(self, record_type: str) -> FieldMap:
        if record_type not in self._maps:
            self._maps[record_type], self.versions[record_type] = mapping_in_force(
                self.system, record_type
            )
        return self._maps[record_type]


def mappings_of(system: ConnectedSystem) -> SystemMappings:
    return SystemMappings(system)


# --- drafts and publishing -----------------------------------------------------------------


def mapping_check(*, record_type: str, document: Any) -> FieldMap:
    """``document`` checked for ``record_type``; an ``ApplicationError`` naming each fault
    by its place in the document (``fields[2].source``)."""
    try:
        return mapping_read(document, fields=canonical_fields(record_type))
    except MappingInvalid as invalid:
        raise ApplicationError(
            f"The mapping cannot be used: {invalid}",
            errors={f"document.{path}": messages for path, messages in invalid.errors.items()},
        ) from None


def mapping_draft_save(
    *, system: ConnectedSystem, record_type: str, document: Any, note: str = "", actor: Any = None
) -> FieldMapping:
    """Saves the system's draft of ``record_type`` (one at a time; a new version number)."""
    mapping_in_force(system, record_type)  # the system maps records of this type
    mapping_check(record_type=record_type, document=document)
    with transaction.atomic():
        ConnectedSystem.objects.select_for_update().filter(pk=system.pk).first()
        draft = FieldMapping.objects.filter(
            system=system, record_type=record_type, status=MappingStatus.DRAFT
        ).first()
        if draft is None:
            latest = FieldMapping.objects.filter(system=system, record_type=record_type).aggregate(
                Max("version")
            )["version__max"]
            draft = FieldMapping(
                system=system,
                record_type=record_type,
                version=(latest or 0) + 1,
                created_by=actor if getattr(actor, "pk", None) else None,
            )
        draft.document = document
        draft.note = note[:500]
        draft.save()
    return draft


def mapping_publish(*, mapping: FieldMapping) -> tuple[FieldMapping | None, int]:
    """Publishes the draft ``mapping``: the published one before it is retired, and the
    work that waited for a better mapping of this type runs again. Returns the version it
    replaced and how many exceptions that closed. Call inside a transaction."""
    system = mapping.system
    ConnectedSystem.objects.select_for_update().filter(pk=system.pk).first()
    mapping.refresh_from_db()
    if mapping.status != MappingStatus.DRAFT:
        raise ConflictError(
            f"Version {mapping.version} is {mapping.get_status_display().lower()}; only a draft "
            "is published.",
            errors={"status": [mapping.status]},
        )
    mapping_check(record_type=mapping.record_type, document=mapping.document)
    before = mapping_published(system, mapping.record_type)
    if before is not None:
        before.status = MappingStatus.RETIRED
        before.save(update_fields=["status", "updated_at"])
    mapping.status = MappingStatus.PUBLISHED
    mapping.published_at = timezone.now()
    try:
        with transaction.atomic():
            mapping.save(update_fields=["status", "published_at", "updated_at"])
    except IntegrityError:
        raise ConflictError("Another version was published at the same time.") from None
    released = exceptions_clear(
        waiting_on=mapping_waiting_key(system, mapping.record_type),
        resolution=f"Version {mapping.version} of {system.name}'s {mapping.record_type} mapping "
        "was published.",
    )
    return before, released


# --- trying a mapping ----------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    """What a mapping makes of one record: its canonical event, or why it is ignored, or the
    business values it lacks (by vendor path)."""

    source: str  # "sample" or "transaction #12"
    key: str
    normalized: dict[str, Any] | None
    ignored: str = ""
    unmapped: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.ignored and not self.unmapped

    @property
    def normalized_text(self) -> str:
        return json.dumps(self.normalized, indent=2, ensure_ascii=False) if self.normalized else ""


def _preview_of(event: InboundEvent, source: str) -> Preview:
    unmapped = event.unmapped
    if event.fetch:  # a thin event: its values are read from the system when it runs
        unmapped = {
            "(fetch)": [
                f"The event names record {event.fetch} only: its values are read from the "
                "system when it runs. Try the mapping on the transaction once it has run."
            ]
        }
    return Preview(
        source=source,
        key=event.idempotency_key,
        normalized=event.normalized,
        ignored=event.ignored,
        unmapped=unmapped,
    )


def mapping_preview(
    *,
    system: ConnectedSystem,
    record_type: str,
    document: Any,
    sample: bytes | None = None,
    transaction_ids: list[int] | None = None,
) -> list[Preview]:
    """``document`` tried on a pasted ``sample`` (a body as the system sends it) and on
    received transactions of the system; nothing is stored. An ``ApplicationError``
    when the document or the sample cannot be read."""
    adapter = vendor_adapter(system)
    if adapter is None or record_type not in adapter.defaults:
        raise NotFoundError(f"{system.name} has no {record_type!r} records to map.")
    draft = mapping_check(record_type=record_type, document=document)
    others = mappings_of(system)

    def mappings(kind: str) -> FieldMap:
        return draft if kind == record_type else others(kind)

    previews: list[Preview] = []
    if sample:
        try:
            events = adapter.parse(body=sample, mappings=mappings)
        except EventRejected as exc:
            raise ApplicationError(
                f"The sample is not a payload {system.name} sends: {exc.message}",
                errors={f"sample.{path}": messages for path, messages in exc.errors.items()},
            ) from None
        previews.extend(_preview_of(event, "sample") for event in events[:PREVIEW_MAX_EVENTS])
    for tx in Transaction.objects.filter(
        pk__in=transaction_ids or [], source_system=system, payload__isnull=False
    ).exclude(state=TransactionState.REJECTED):
        try:
            event = adapter.remap(payload=tx.payload, key=tx.idempotency_key, mappings=mappings)
        except EventRejected as exc:
            previews.append(
                Preview(
                    source=f"transaction #{tx.pk}",
                    key=tx.idempotency_key or "",
                    normalized=None,
                    unmapped=exc.errors,
                )
            )
            continue
        previews.append(_preview_of(event, f"transaction #{tx.pk}"))
    return previews


def mapping_samples(system: ConnectedSystem, *, limit: int = 10) -> list[Transaction]:
    """The system's last received payloads, to try a mapping on."""
    return list(
        Transaction.objects.filter(source_system=system, payload__isnull=False)
        .exclude(state=TransactionState.REJECTED)
        .order_by("-pk")
        .only("pk", "event_type", "business_key", "state", "received_at", "idempotency_key")[:limit]
    )


# --- mapping work again --------------------------------------------------------------------


@dataclass(frozen=True)
class Remapped:
    """A transaction mapped again: ignored by the mapping in force, or ready to run."""

    ignored: str = ""


def transaction_remap(tx: Transaction) -> Remapped:
    """Maps a transaction that arrived with business values missing again, with the
    mapping in force now. Raises the ``mapping_incomplete`` business exception when they
    are still missing; on success the transaction holds its complete canonical event."""
    adapter = vendor_adapter(tx.source_system)
    if adapter is None:
        return Remapped()
    mappings = mappings_of(tx.source_system)
    event = adapter.remap(payload=tx.payload, key=tx.idempotency_key, mappings=mappings)
    record_type = event.extra["record_type"]
    version = mappings.versions.get(record_type)
    if event.ignored:
        return Remapped(ignored=event.ignored)
    fields = {
        "normalized": event.normalized,
        "business_key": event.business_key[:100],
        "errors": event.unmapped or None,
        "mapping_version": version,
        "schema_version": event.schema_version or tx.schema_version,
    }
    Transaction.objects.filter(pk=tx.pk).update(**fields)
    for name, value in fields.items():
        setattr(tx, name, value)
    if event.unmapped:
        raise mapping_incomplete(tx.source_system, record_type, event.unmapped, version)
    return Remapped()


def mapping_incomplete(
    system: ConnectedSystem, record_type: str, unmapped: dict[str, list[str]], version: int | None
) -> IntegrationError:
    shown = "; ".join(
        f"{path}: {messages[0].rstrip('.')}" for path, messages in list(unmapped.items())[:3]
    )
    more = f" (and {len(unmapped) - 3} more)" if len(unmapped) > 3 else ""
    which = f"version {version}" if version else "the default mapping"
    return IntegrationError.business(
        f"{system.name}'s {record_type.replace('_', ' ')} lacks business values that "
        f"{which} reads: {shown}{more}.",
        code=ExceptionType.MAPPING_INCOMPLETE,
        details={"system": system.slug, "record_type": record_type, "errors": unmapped},
        waiting_on=mapping_waiting_key(system, record_type),
        system=system,
    )
