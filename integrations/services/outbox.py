"""The outbox: an event per change of canonical state, written in the change's own transaction.

``outbox_publish`` is called by the flows inside the ``transaction.atomic()`` that changes
the record, so the event commits or rolls back with the change: a crash never loses one
and a rolled-back change never announces one. It writes the event and one ``Delivery``
per subscription to its type, and asks for a delivery task after commit; the
engine's sweep sends whatever that message did not (``deliveries_sweep``).

Events are numbered per record (``sequence``) so that each subscriber receives them in
order. A flow that runs again after a crash publishes the same change once
(``dedupe_key``: type, record and version).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from celery import current_app
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from integrations.choices import DeliveryState, EventType
from integrations.models import Delivery, OutboxEvent, Subscription

if TYPE_CHECKING:
    from canonical.models import Contract, Invoice, Project
    from integrations.models import ExceptionRecord

logger = logging.getLogger(__name__)

# The task that sends a subscription's due deliveries (``integrations.tasks``).
DELIVER_TASK = "integrations.tasks.deliver_events_task"


def outbox_publish(
    *,
    event_type: EventType | str,
    record_key: str,
    version: int | str,
    payload: dict[str, Any] | Callable[[], dict[str, Any]],
    occurred_at: dt.datetime | None = None,
) -> OutboxEvent | None:
    """Writes the event of a change and its deliveries; call inside the change's transaction.

    Publishing the same change again (same type, record and version) returns the event
    already written and writes nothing; an event no subscription receives is not written
    (``payload`` may be a function, then called only when the event is written).
    """
    event_type = EventType(event_type)
    # A disabled subscription collects its deliveries too: enabling it sends them.
    subscriptions = [s for s in Subscription.objects.all() if s.receives(event_type)]
    if not subscriptions:
        return None  # nobody listens: no row to keep
    dedupe_key = f"{event_type}|{record_key}|{version}"[:300]
    existing = OutboxEvent.objects.filter(dedupe_key=dedupe_key).first()
    if existing is not None:
        return existing
    for _ in range(5):  # two writers of one record's next number: the loser takes the next
        sequence = (
            OutboxEvent.objects.filter(record_key=record_key).aggregate(n=Max("sequence"))["n"] or 0
        ) + 1
        try:
            with transaction.atomic():
                event = OutboxEvent.objects.create(
                    event_type=event_type,
                    record_key=record_key,
                    sequence=sequence,
                    dedupe_key=dedupe_key,
                    payload=_plain(payload() if callable(payload) else payload),
                    occurred_at=occurred_at or timezone.now(),
                )
        except IntegrityError:
            existing = OutboxEvent.objects.filter(dedupe_key=dedupe_key).first()
            if existing is not None:
                return existing
            continue
        break
    else:
        raise RuntimeError(f"Could not number the next event of {record_key}.")
    Delivery.objects.bulk_create(
        Delivery(
            subscription=subscription,
            event=event,
            record_key=record_key,
            sequence=event.sequence,
            state=DeliveryState.PENDING,
            next_attempt_at=event.created_at,
        )
        for subscription in subscriptions
    )
    subscription_ids = [s.pk for s in subscriptions if s.enabled]
    if subscription_ids:
        transaction.on_commit(lambda: deliveries_enqueue(subscription_ids=subscription_ids))
    return event


def deliveries_enqueue(*, subscription_ids: list[int]) -> None:
    """Asks a worker to send each subscription's due deliveries; a broker that cannot be
    reached only delays them until the sweep."""
    for subscription_id in subscription_ids:
        try:
            current_app.signature(DELIVER_TASK, args=[subscription_id]).apply_async()
        except (KombuOperationalError, OSError) as exc:
            logger.warning("The broker cannot be reached; deliveries wait for the sweep: %s", exc)
            return


def _plain(value: Any) -> Any:
    """JSON-ready: decimals as strings (money keeps its digits), dates in ISO 8601."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


# --- what each event says (its JSON Schema: integrations/schemas/events/<type>.json) ---


def contract_signed_publish(*, contract: Contract) -> OutboxEvent | None:
    def payload() -> dict[str, Any]:
        project = contract.projects.order_by("id").first()
        return {
            "number": contract.number,
            "version": contract.version,
            "customer": contract.customer.number,
            "legal_entity": contract.legal_entity.code,
            "currency": contract.currency,
            "billing_model": contract.billing_model,
            "start_date": contract.start_date,
            "end_date": contract.end_date,
            "cap_amount": contract.cap_amount,
            "project": project.code if project is not None else None,
        }

    return outbox_publish(
        event_type=EventType.CONTRACT_SIGNED,
        record_key=f"contract:{contract.number}",
        version=contract.version,
        payload=payload,
    )


def project_ready_publish(*, project: Project) -> OutboxEvent | None:
    return outbox_publish(
        event_type=EventType.PROJECT_READY,
        record_key=f"project:{project.code}",
        version=project.version,
        payload=lambda: {
            "code": project.code,
            "version": project.version,
            "name": project.name,
            "status": project.status,
            "contract": project.contract.number if project.contract_id else None,
            "start_date": project.start_date,
            "end_date": project.end_date,
        },
    )


def invoice_posted_publish(*, invoice: Invoice, erp_number: str) -> OutboxEvent | None:
    return outbox_publish(
        event_type=EventType.INVOICE_POSTED,
        record_key=f"invoice:{invoice.number}",
        version=f"{invoice.version}:{erp_number}",
        payload=lambda: {
            "number": invoice.number,
            "version": invoice.version,
            "erp_number": erp_number,
            "project": invoice.project.code,
            "customer": invoice.customer.number,
            "legal_entity": invoice.legal_entity.code,
            "currency": invoice.currency,
            "amount": invoice.amount,
            "period_start": invoice.period_start,
            "period_end": invoice.period_end,
        },
    )


def exception_raised_publish(*, exception: ExceptionRecord) -> OutboxEvent | None:
    return outbox_publish(
        event_type=EventType.EXCEPTION_RAISED,
        record_key=f"exception:{exception.pk}",
        version=1,
        payload=lambda: {
            "id": exception.pk,
            "exception_type": exception.exception_type,
            "severity": exception.severity,
            "flow": exception.flow,
            "business_key": exception.business_key,
            "message": exception.message,
            "money_at_risk": exception.money_at_risk,
            "currency": exception.currency,
        },
        occurred_at=exception.created_at,
    )
