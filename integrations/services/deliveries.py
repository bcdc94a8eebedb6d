"""Sending the outbox to subscribers: signed POSTs, in order per record, at least once.

A delivery task (``deliver_events_task``) sends one subscription's due deliveries. A
delivery is due when its time has come and no earlier event of the same record is
undelivered to that subscription: a later event waits behind an earlier one that fails,
so a receiver never sees a record's events out of order. Each try is a
``DeliveryAttempt`` row. Any answer but 2xx, a timeout or a refused connection is tried
again after ``CT_OUTBOUND_BACKOFF_SECONDS * 2^(n-1)`` (at most the cap, half of it fixed
and half jitter, never sooner than a ``Retry-After``); nothing is skipped, because skipping
would break the order. After ``CT_OUTBOUND_DISABLE_AFTER`` failed tries in a row the
subscription is disabled and its owning team told (``subscription_disabled``); the
deliveries wait, and enabling it sends them.

A send claims its delivery by a conditional update (``sending``, with ``claimed_at``): two
workers never send it at once, and one killed mid-send leaves a claim that the sweep takes
back after the timeout and a margin. A receiver may therefore see an event twice; the
event id (``X-CT-Event-Id``, and ``id`` in the body) is for de-duplication.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from canonical.errors import ApplicationError, ConflictError, NotFoundError
from integrations import signatures
from integrations.choices import DeliveryState
from integrations.clients.transport import client, retry_after_seconds
from integrations.models import Delivery, DeliveryAttempt, Subscription
from integrations.services.outbox import deliveries_enqueue
from integrations.signals import subscription_disabled

LEASE_MARGIN_SECONDS = 30
EXCERPT_CHARS = 500
WAITING = (DeliveryState.PENDING, DeliveryState.RETRY_SCHEDULED)

HEADER_EVENT_ID = "X-CT-Event-Id"
HEADER_EVENT_TYPE = "X-CT-Event-Type"
HEADER_ATTEMPT = "X-CT-Delivery-Attempt"


@dataclass
class DeliverySummary:
    delivered: int = 0
    failed: int = 0
    disabled: int = 0


def outbound_backoff(
    *, attempt: int, retry_after: float | None = None, rng: random.Random | None = None
) -> float:
    """Seconds before try ``attempt + 1``: exponential up to the cap, half of it jittered
    (never zero, so a failing endpoint is never called again at once)."""
    ceiling = min(
        settings.CT_OUTBOUND_BACKOFF_CAP_SECONDS,
        settings.CT_OUTBOUND_BACKOFF_SECONDS * 2 ** max(attempt - 1, 0),
    )
    delay = ceiling * (rng or random).uniform(0.5, 1.0)
    return max(delay, retry_after) if retry_after is not None else delay


def _lease() -> dt.timedelta:
    return dt.timedelta(seconds=settings.CT_OUTBOUND_TIMEOUT_SECONDS + LEASE_MARGIN_SECONDS)


def deliveries_due(*, now: dt.datetime, subscription_id: int | None = None) -> QuerySet[Delivery]:
    """Deliveries of enabled subscriptions that may be sent now: their time has come (or
    their sender's claim ran out) and no earlier event of their record waits before them."""
    earlier = Delivery.objects.filter(
        subscription_id=OuterRef("subscription_id"),
        record_key=OuterRef("record_key"),
        sequence__lt=OuterRef("sequence"),
    ).exclude(state=DeliveryState.DELIVERED)
    ready = Q(state__in=WAITING, next_attempt_at__lte=now) | Q(
        state=DeliveryState.SENDING, claimed_at__lt=timezone.now() - _lease()
    )
    due = Delivery.objects.filter(ready, subscription__enabled=True).filter(~Exists(earlier))
    if subscription_id is not None:
        due = due.filter(subscription_id=subscription_id)
    return due.select_related("event", "subscription").order_by("event_id")


def deliveries_send(*, subscription_id: int, now: dt.datetime | None = None) -> DeliverySummary:
    """Sends a subscription's due deliveries, round after round (each delivered event may
    free its record's next), until nothing is due or a round delivered nothing.

    ``now`` is the clock the schedule is read and written with (the wall clock unless
    given); the signature's timestamp is always the wall clock."""
    summary = DeliverySummary()
    while True:
        clock = now or timezone.now()
        batch = list(
            deliveries_due(now=clock, subscription_id=subscription_id)[
                : settings.CT_OUTBOUND_EVENTS_BATCH
            ]
        )
        if not batch:
            return summary
        delivered = summary.delivered
        for delivery in batch:
            outcome = delivery_send(delivery=delivery, now=clock)
            if outcome == "delivered":
                summary.delivered += 1
            elif outcome in ("retry", "disabled"):
                summary.failed += 1
            if outcome == "disabled":
                summary.disabled += 1
                return summary
        if summary.delivered == delivered:
            return summary


def delivery_body(delivery: Delivery) -> bytes:
    event = delivery.event
    envelope = {
        "id": str(event.event_id),
        "type": event.event_type,
        "occurred_at": event.occurred_at.isoformat(),
        "record": {"key": event.record_key, "sequence": event.sequence},
        "data": event.payload,
    }
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True).encode()


def delivery_send(*, delivery: Delivery, now: dt.datetime) -> str:
    """One try: ``delivered``, ``retry``, ``disabled`` (this failure disabled the
    subscription), or ``skipped`` when another sender holds it."""
    number = delivery.attempts_count + 1
    claimed = Delivery.objects.filter(
        pk=delivery.pk, state=delivery.state, attempts_count=delivery.attempts_count
    ).update(
        state=DeliveryState.SENDING,
        claimed_at=timezone.now(),
        attempts_count=F("attempts_count") + 1,
    )
    if not claimed:
        return "skipped"
    subscription = delivery.subscription
    body = delivery_body(delivery)
    headers = {
        "Content-Type": "application/json",
        signatures.HEADER: signatures.sign(subscription.secret, body),
        HEADER_EVENT_ID: str(delivery.event.event_id),
        HEADER_EVENT_TYPE: delivery.event.event_type,
        HEADER_ATTEMPT: str(number),
    }
    started_at = timezone.now()
    started = time.perf_counter()
    status: int | None = None
    error = excerpt = ""
    retry_after: float | None = None
    try:
        response = client().post(subscription.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000] or type(exc).__name__
    else:
        status = response.status_code
        excerpt = response.text[:EXCERPT_CHARS]
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        if not 200 <= status < 300:
            error = f"The endpoint answered {status}."
    ok = status is not None and 200 <= status < 300
    duration_ms = int((time.perf_counter() - started) * 1000)
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=number,
            started_at=started_at,
            duration_ms=duration_ms,
            ok=ok,
            status_code=status,
            error=error,
            response_excerpt=excerpt,
        )
        common = {"last_status_code": status, "response_excerpt": excerpt, "claimed_at": None}
        if ok:
            Delivery.objects.filter(pk=delivery.pk).update(
                state=DeliveryState.DELIVERED,
                delivered_at=timezone.now(),
                next_attempt_at=None,
                last_error="",
                **common,
            )
            Subscription.objects.filter(pk=subscription.pk, consecutive_failures__gt=0).update(
                consecutive_failures=0
            )
            return "delivered"
        Delivery.objects.filter(pk=delivery.pk).update(
            state=DeliveryState.RETRY_SCHEDULED,
            next_attempt_at=now
            + dt.timedelta(seconds=outbound_backoff(attempt=number, retry_after=retry_after)),
            last_error=error,
            **common,
        )
        locked = Subscription.objects.select_for_update().get(pk=subscription.pk)
        locked.consecutive_failures += 1
        locked.save(update_fields=["consecutive_failures", "updated_at"])
        if locked.enabled and locked.consecutive_failures >= settings.CT_OUTBOUND_DISABLE_AFTER:
            _disable(
                locked,
                reason=(
                    f"Disabled by the tower after {locked.consecutive_failures} failed tries "
                    f"in a row; the last: {error}"
                ),
                automatic=True,
            )
            return "disabled"
    return "retry"


def _disable(subscription: Subscription, *, reason: str, automatic: bool) -> None:
    subscription.enabled = False
    subscription.disabled_reason = reason[:2000]
    subscription.disabled_at = timezone.now()
    subscription.save(update_fields=["enabled", "disabled_reason", "disabled_at", "updated_at"])
    if automatic:
        # Inside this transaction: the notice commits with the disabling, or neither does.
        subscription_disabled.send(sender=Subscription, subscription=subscription)


def _locked(subscription_id: int) -> Subscription:
    subscription = Subscription.objects.select_for_update().filter(pk=subscription_id).first()
    if subscription is None:
        raise NotFoundError(f"Subscription {subscription_id} does not exist.")
    return subscription


def subscription_disable(*, subscription_id: int, reason: str) -> Subscription:
    """Stops sending to the subscription; its deliveries wait (and new events queue up)."""
    with transaction.atomic():
        subscription = _locked(subscription_id)
        if subscription.enabled:
            _disable(subscription, reason=reason or "Disabled by a person.", automatic=False)
    return subscription


def subscription_enable(*, subscription_id: int) -> Subscription:
    """Sends to the subscription again, from where it stopped: its waiting deliveries are
    due at once, in order."""
    with transaction.atomic():
        subscription = _locked(subscription_id)
        subscription.enabled = True
        subscription.disabled_reason = ""
        subscription.disabled_at = None
        subscription.consecutive_failures = 0
        subscription.save()
        Delivery.objects.filter(subscription_id=subscription_id, state__in=WAITING).update(
            next_attempt_at=timezone.now()
        )
        transaction.on_commit(lambda: deliveries_enqueue(subscription_ids=[subscription_id]))
    return subscription


def delivery_replay(*, delivery_id: int) -> Delivery:
    """Sends one event to its subscription again (same event id, new attempts); a delivery
    still waiting is tried now."""
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().filter(pk=delivery_id).first()
        if delivery is None:
            raise NotFoundError(f"Delivery {delivery_id} does not exist.")
        if delivery.state == DeliveryState.SENDING:
            raise ConflictError(f"Delivery {delivery_id} is being sent right now.")
        delivery.state = DeliveryState.PENDING
        delivery.next_attempt_at = timezone.now()
        delivery.delivered_at = None
        delivery.save(update_fields=["state", "next_attempt_at", "delivered_at", "updated_at"])
        subscription_id = delivery.subscription_id
        transaction.on_commit(lambda: deliveries_enqueue(subscription_ids=[subscription_id]))
    return delivery


def deliveries_replay(*, subscription_id: int, since: dt.datetime, until: dt.datetime) -> int:
    """Sends again every event published to the subscription in [since, until); returns
    how many. Deliveries being sent right now are left to finish."""
    if until <= since:
        raise ApplicationError(
            "Nothing was replayed.", errors={"until": ["Must be after the start."]}
        )
    with transaction.atomic():
        _locked(subscription_id)
        count = (
            Delivery.objects.filter(
                subscription_id=subscription_id,
                event__created_at__gte=since,
                event__created_at__lt=until,
            )
            .exclude(state=DeliveryState.SENDING)
            .update(
                state=DeliveryState.PENDING,
                next_attempt_at=timezone.now(),
                delivered_at=None,
                updated_at=timezone.now(),
            )
        )
        if count:
            transaction.on_commit(lambda: deliveries_enqueue(subscription_ids=[subscription_id]))
    return count


def deliveries_sweep(*, now: dt.datetime | None = None) -> list[int]:
    """Asks for a delivery task for every subscription with due deliveries (an event whose
    message was lost, a retry whose time came, a claim whose sender died); returns their ids."""
    ids = sorted(
        set(deliveries_due(now=now or timezone.now()).values_list("subscription_id", flat=True))
    )
    if ids:
        deliveries_enqueue(subscription_ids=ids)
    return ids
