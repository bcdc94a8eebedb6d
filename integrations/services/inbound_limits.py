"""Inbound limits: how many requests a connected system may send per minute, and how many of
its refused requests the tower keeps.

Checked after the signature (a stranger cannot spend a system's allowance) and before the
body is parsed or anything is stored, so a sender over its limit costs one HMAC and one
counter. The bucket is the outbound limits' token bucket (``ratelimits.bucket_take``): it
holds half a minute's allowance at once and refills at the rest, so that no sliding minute
holds more requests than the limit. A batch counts as one request (it holds at most
``CT_INBOUND_MAX_EVENTS`` events).

A refused request is kept as a ``rejected`` transaction with at most
``CT_REJECTED_BODY_MAX_BYTES`` of its body (``inbound.transaction_reject``); beat prunes
them every ``CT_REJECTED_PRUNE_SECONDS``: those older than ``CT_REJECTED_RETENTION_DAYS`` and,
per system, all but the newest ``CT_REJECTED_RETENTION_COUNT``. So a sender cannot fill the
disk with refusals.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework import status

from canonical.errors import ApplicationError
from integrations.choices import TransactionState
from integrations.models import ConnectedSystem, InboundBucket, Transaction
from integrations.services.ratelimits import bucket_take

logger = logging.getLogger(__name__)


class InboundRateLimited(ApplicationError):
    """The system sent more requests than its limit; ``retry_after`` says when to send again."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS

    def __init__(self, message: str, *, retry_after: int, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


def inbound_capacity(limit: int) -> tuple[float, float]:
    """(refill per second, capacity) of a bucket that lets ``limit`` requests a minute in."""
    burst = max(1, limit // 2)
    return max(limit - burst, 1) / settings.CT_RATE_LIMIT_WINDOW_SECONDS, float(burst)


def inbound_rate_check(*, system: ConnectedSystem) -> None:
    """Counts one request of ``system``; refuses it (429) when the system is over its limit."""
    limit = system.inbound_requests_per_minute
    if not limit:
        return
    rate, capacity = inbound_capacity(limit)
    try:
        wait = bucket_take(
            key=f"ct:inbound:{system.pk}",
            row_model=InboundBucket,
            system=system,
            rate=rate,
            capacity=capacity,
        )
    except redis.RedisError:
        # The limit protects the tower; Redis down must not turn senders away as well.
        logger.warning("Inbound limit of %s not checked: Redis did not answer.", system.slug)
        return
    if wait > 0:
        retry_after = max(1, math.ceil(wait))
        raise InboundRateLimited(
            f"{system.name} ({system.slug}) sent more than its limit of {limit} requests per "
            f"minute; send again in {retry_after} s.",
            errors={"system": [f"At most {limit} requests per minute."]},
            retry_after=retry_after,
            extra={"retry_after": retry_after},
        )


PRUNE_BATCH = 1000


def rejected_transactions_prune(*, now: datetime | None = None) -> int:
    """Deletes the refused requests kept past their retention; returns how many."""
    now = now or timezone.now()
    rejected = Transaction.objects.filter(state=TransactionState.REJECTED).order_by()
    deleted = 0
    days = settings.CT_REJECTED_RETENTION_DAYS
    if days:
        deleted += _delete(rejected.filter(received_at__lt=now - timedelta(days=days)))
    keep = settings.CT_REJECTED_RETENTION_COUNT
    if keep:
        systems = rejected.values_list("source_system_id", flat=True).distinct()
        for system_id in list(systems):
            of_system = rejected.filter(source_system_id=system_id)
            oldest_kept = (
                of_system.order_by("-pk").values_list("pk", flat=True)[keep - 1 : keep].first()
            )
            if oldest_kept is not None:
                deleted += _delete(of_system.filter(pk__lt=oldest_kept))
    if deleted:
        logger.info("Pruned %s refused requests past their retention.", deleted)
    return deleted


def _delete(queryset: QuerySet[Transaction]) -> int:
    """Deletes in batches, so that no one statement holds a long lock."""
    deleted = 0
    while ids := list(queryset.values_list("pk", flat=True)[:PRUNE_BATCH]):
        Transaction.objects.filter(pk__in=ids).delete()
        deleted += len(ids)
    return deleted
