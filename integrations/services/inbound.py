"""Receiving signed events at ``/api/v1/inbound/<system-slug>/``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone
from rest_framework import status

from canonical.errors import ApplicationError, ConflictError, NotFoundError
from canonical.validators import MAX_ID, NUL_MESSAGE, moment_validate, text_problem, unstorable_text
from integrations.adapters import EventRejected, InboundEvent, adapter_for
from integrations.choices import ErrorClass, TransactionState
from integrations.models import ConnectedSystem, Flow, Transaction
from integrations.services.inbound_limits import inbound_rate_check
from integrations.services.locks import lost_to_concurrent_work
from integrations.services.mappings import mappings_of
from integrations.services.queueing import transactions_enqueue
from integrations.services.rollups import rollups_received
from integrations.signatures import SignatureError


class SignatureRefused(ApplicationError):
    status_code = status.HTTP_401_UNAUTHORIZED


class PayloadTooLarge(ApplicationError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE


@dataclass
class InboundResult:
    """What became of each event of a request, in the order they were sent."""

    status_code: int
    events: list[InboundEvent] = field(default_factory=list)
    accepted: list[Transaction] = field(default_factory=list)
    transaction_ids: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        new = {tx.idempotency_key for tx in self.accepted}
        results = []
        for event in self.events:
            key = event.idempotency_key
            row = {
                "event_id": key,
                "transaction_id": self.transaction_ids[key],
                "duplicate": key not in new,
            }
            if event.ignored:
                row["ignored"] = event.ignored
            if event.unmapped:
                row["unmapped"] = event.unmapped
            if event.fetch:
                row["fetch"] = (
                    f"The event names record {event.fetch} only: it is read from the "
                    "system's API when the event runs."
                )
            results.append(row)
            new.discard(key)  # a repeat later in the same batch is a duplicate
        return {
            "accepted": len(self.accepted),
            "duplicates": len(results) - len(self.accepted),
            "ignored": sum(1 for tx in self.accepted if tx.state == TransactionState.IGNORED),
            "transaction_ids": [row["transaction_id"] for row in results],
            "results": results,
        }


def inbound_receive(
    *, system_slug: str, headers: Mapping[str, str], body: bytes | None, content_length: int | None
) -> InboundResult:
    """Authenticate, read and store one request's events, then enqueue them.

    ``body`` is None when the server refused to read a body over the size limit.
    """
    system = ConnectedSystem.objects.filter(slug=system_slug).first()
    if system is None:
        raise NotFoundError(f"Unknown system {system_slug!r}.", errors={"system": [system_slug]})
    if not system.enabled:
        raise ConflictError(
            f"System {system.slug!r} is disabled; its events are refused until it is enabled.",
            errors={"system": ["disabled"]},
        )
    limit = settings.CT_INBOUND_MAX_BYTES
    if body is None or (content_length or 0) > limit or len(body) > limit:
        raise PayloadTooLarge(
            f"The request body is over the limit of {limit} bytes.",
            errors={"(body)": [f"At most {limit} bytes."]},
        )
    adapter = adapter_for(system)
    try:
        adapter.verify(system=system, headers=headers, body=body)
    except SignatureError as exc:
        raise SignatureRefused(
            str(exc), errors={"signature": [exc.reason]}, extra={"reason": exc.reason}
        ) from None
    inbound_rate_check(system=system)
    mappings = mappings_of(system)
    try:
        if b"\x00" in body:
            raise EventRejected("The body holds a NUL byte.", errors={"(body)": [NUL_MESSAGE]})
        events = adapter.parse(body=body, mappings=mappings)
        _storable_check(events)
    except EventRejected as exc:
        rejected = transaction_reject(system=system, body=body, rejection=exc)
        # The answer says what was kept (a NUL it quotes, escaped as it is kept).
        raise ApplicationError(
            rejected.last_error, errors=rejected.errors, extra={"transaction_id": rejected.pk}
        ) from None
    return _store(system=system, events=events, versions=mappings.versions)


def _storable_check(events: list[InboundEvent]) -> None:
    """Whatever the adapter, each event must be one the database can hold: a version that
    fits its 64-bit column, a moment with a real UTC offset, no NUL character in any text
    (PostgreSQL stores none). Refused here, naming the field, rather than failing in the
    insert."""
    for index, event in enumerate(events):
        prefix = f"[{index}]." if len(events) > 1 else ""
        if event.version is not None and not 0 <= event.version <= MAX_ID:
            raise EventRejected(
                "version is out of range.",
                errors={f"{prefix}version": [f"Must be an integer from 0 to {MAX_ID}."]},
            )
        try:
            moment_validate(event.occurred_at)
        except ValidationError as error:
            raise EventRejected(
                f"occurred_at: {error.messages[0]}",
                errors={f"{prefix}occurred_at": error.messages},
            ) from None
        # The canonical dialect keeps the event as its canonical form: one document, read once.
        documents = (
            (event.payload,)
            if event.normalized is event.payload
            else (event.payload, event.normalized)
        )
        for document in documents:
            if (found := unstorable_text(document)) is not None:
                path, problem = found
                field_path = f"{prefix}{path}" if path else prefix.rstrip(".") or "(body)"
                raise EventRejected(f"{field_path}: {problem}", errors={field_path: [problem]})
        texts = (event.idempotency_key, event.business_key, event.external_id, event.correlation_id)
        if problem := next(filter(None, map(text_problem, texts)), None):
            raise EventRejected(
                f"{prefix}id: {problem}", errors={f"{prefix}id" if prefix else "id": [problem]}
            )


def transaction_reject(
    *, system: ConnectedSystem, body: bytes, rejection: EventRejected
) -> Transaction:
    """Keeps a refused request (bounded) so that nobody has to ask the sender for it."""
    limit = settings.CT_REJECTED_BODY_MAX_BYTES
    # A NUL cannot be stored in a text column (PostgreSQL); it is kept visibly instead.
    text = body[:limit].decode("utf-8", errors="replace").replace("\x00", "\\x00")
    if len(body) > limit:
        text += f"\n... [{len(body) - limit} more bytes not kept]"
    return Transaction.objects.create(
        source_system=system,
        state=TransactionState.REJECTED,
        raw_body=text,
        raw_body_bytes=len(body),
        raw_body_truncated=len(body) > limit,
        correlation_id=uuid.uuid4().hex,
        error_class=ErrorClass.DATA,
        last_error=_escaped(rejection.message),
        errors=_storable(rejection.errors),
        finished_at=timezone.now(),
    )


def events_store(
    *, system: ConnectedSystem, events: list[InboundEvent], versions: dict[str, int] | None = None
) -> InboundResult:
    """Stores events the tower read itself (a poller's) exactly as a webhook's: idempotent
    by event id, ignored ones kept with their rule, the rest enqueued."""
    return _store(system=system, events=events, versions=versions or {})


# Tries at storing one request's events while other requests store some of the same ids.
STORE_TRIES = 5


def _store(
    *, system: ConnectedSystem, events: list[InboundEvent], versions: dict[str, int]
) -> InboundResult:
    flows = Flow.objects.in_bulk(field_name="kind")
    for _ in range(STORE_TRIES):
        try:
            with transaction.atomic():
                return _store_once(system=system, events=events, flows=flows, versions=versions)
        except (IntegrityError, OperationalError) as exc:
            # Another request stored one of these event ids between our look-up and our
            # insert (or both waited for the other's ids: PostgreSQL aborts one of them).
            # Look again: what it stored is now a duplicate, and each try sees more of it.
            if isinstance(exc, OperationalError) and not lost_to_concurrent_work(exc):
                raise
    raise ConflictError(
        "Other requests are storing the same events at this moment; send again.",
        errors={"id": ["Stored concurrently by another request."]},
    )


def _store_once(
    *,
    system: ConnectedSystem,
    events: list[InboundEvent],
    flows: dict[str, Flow],
    versions: dict[str, int],
) -> InboundResult:
    keys = {event.idempotency_key for event in events}
    existing = dict(
        Transaction.objects.filter(source_system=system, idempotency_key__in=keys)
        .exclude(state=TransactionState.REJECTED)
        .values_list("idempotency_key", "pk")
    )
    now = timezone.now()
    fresh: dict[str, Transaction] = {}
    for index, event in enumerate(events):
        if event.idempotency_key in existing or event.idempotency_key in fresh:
            continue
        flow = flows.get(event.flow_kind)
        if flow is None:
            raise ApplicationError(
                f"The flow {event.flow_kind!r} is not configured.",
                errors={f"[{index}].type" if len(events) > 1 else "type": [event.event_type]},
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        fresh[event.idempotency_key] = Transaction(
            flow=flow,
            source_system=system,
            event_type=event.event_type,
            business_key=event.business_key[:100],
            external_id=event.external_id[:100],
            idempotency_key=event.idempotency_key,
            event_version=event.version,
            schema_version=event.schema_version,
            correlation_id=event.correlation_id or uuid.uuid4().hex,
            payload=event.payload,
            normalized=event.normalized,
            errors=event.unmapped or None,
            fetch=event.fetch[:100],
            mapping_version=versions.get(event.extra.get("record_type", "")),
            received_at=now,
            **(_ignored(event, now) if event.ignored else _ready(flow, now)),
        )
    created = Transaction.objects.bulk_create(list(fresh.values()))
    if created:
        ready = [tx for tx in created if tx.state != TransactionState.IGNORED]
        transactions_enqueue(transactions=ready, stamp=False)
        # One upsert per request, in its transaction: counted only if the events are stored.
        rollups_received(transactions=created)
    return InboundResult(
        status_code=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK,
        events=events,
        accepted=created,
        transaction_ids={tx.idempotency_key: tx.pk for tx in created} | existing,
    )


def _ready(flow: Flow, now) -> dict[str, Any]:
    return {
        "enqueued_at": None if flow.paused else now,
        "sla_due_at": now + timedelta(seconds=flow.sla_seconds) if flow.sla_seconds else None,
    }


def _ignored(event: InboundEvent, now) -> dict[str, Any]:
    """An event a rule ignored: kept, final, with the rule's words; never sent to a worker."""
    return {"state": TransactionState.IGNORED, "last_error": event.ignored, "finished_at": now}


def _escaped(text: str) -> str:
    """A refusal's message may quote what was sent; a NUL or an unpaired surrogate in it is
    kept as its escape, since no column can store either."""
    if text_problem(text) is None:
        return text
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode()


def _storable(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    if unstorable_text(errors) is None:
        return errors
    return {
        _escaped(key): [_escaped(message) for message in messages]
        for key, messages in errors.items()
    }
