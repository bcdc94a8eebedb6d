"""Outbound rate limits: a token bucket per system, shared by every worker process.

A system's bucket holds its burst and refills at the rest of its
``rate_limit_per_minute``; each call takes a token, so no minute ever holds more calls
than the limit. With Redis the bucket is a Redis hash changed by one script (atomic across every
worker on every machine); without it, a database row changed in a short transaction. A
429 from the system halves its rate for ``CT_RATE_LIMIT_SLOWDOWN_SECONDS``.

``CT_RATE_LIMIT_WINDOW_SECONDS`` is the minute of "per minute" (60); tests shorten it to
compress time.
"""

from __future__ import annotations

import time
from datetime import timedelta

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from integrations.models import ConnectedSystem, InboundBucket, RateBucket

# Takes a token if there is one. KEYS[1] the bucket; ARGV: rate per second, capacity, now
# (seconds). Returns the seconds until a token is there (0 when one was taken).
_TAKE = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1])
local at = tonumber(bucket[2])
if tokens == nil then tokens = capacity; at = now end
tokens = math.min(capacity, tokens + (now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 60)
return tostring(wait)
"""

_redis: redis.Redis | None = None


def _redis_client() -> redis.Redis | None:
    global _redis
    if not settings.REDIS_URL:
        return None
    if _redis is None:
        _redis = redis.Redis.from_url(settings.REDIS_URL)
    return _redis


def limit_of(system: ConnectedSystem) -> tuple[float, float] | None:
    """The system's bucket now, as (refill per second, capacity), or None without a limit.

    The bucket holds the burst and refills at the rest of the limit over the window, so
    that no window (a sliding minute) ever holds more calls than the limit, however they
    bunch: at most the burst at once, and the rest spread out.
    """
    limit = system.rate_limit_per_minute
    if not limit:
        return None
    burst = system.rate_limit_burst or max(1, limit // 6)
    burst = min(burst, max(1, limit // 2))
    if RateBucket.objects.filter(system=system, slowed_until__gt=timezone.now()).exists():
        limit, burst = max(1, limit // 2), max(1, burst // 2)
    refill = max(limit - burst, 1) / settings.CT_RATE_LIMIT_WINDOW_SECONDS
    return refill, float(burst)


def rate_token_take(system: ConnectedSystem) -> float:
    """Takes a token of ``system``'s bucket; returns 0, or the seconds until one is there."""
    limit = limit_of(system)
    if limit is None:
        return 0.0
    rate, burst = limit
    return bucket_take(
        key=f"ct:rate:{system.pk}", row_model=RateBucket, system=system, rate=rate, capacity=burst
    )


def bucket_take(
    *,
    key: str,
    row_model: type[RateBucket] | type[InboundBucket],
    system: ConnectedSystem,
    rate: float,
    capacity: float,
) -> float:
    """Takes a token of a bucket refilled at ``rate`` per second up to ``capacity``: in Redis
    under ``key`` when there is Redis, else in the system's ``row_model`` row. Returns 0, or
    the seconds until a token is there."""
    client = _redis_client()
    if client is not None:
        return float(client.eval(_TAKE, 1, key, rate, capacity, time.time()))
    with transaction.atomic():
        bucket, created = row_model.objects.select_for_update().get_or_create(system=system)
        now = timezone.now()
        tokens = capacity if created or bucket.refilled_at is None else bucket.tokens
        if bucket.refilled_at is not None:
            tokens = min(capacity, tokens + (now - bucket.refilled_at).total_seconds() * rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / rate
        bucket.tokens, bucket.refilled_at = tokens, now
        bucket.save(update_fields=["tokens", "refilled_at"])
    return wait


def rate_slow_down(system: ConnectedSystem) -> None:
    """The system answered 429: call it at half its rate for a while."""
    if not system.rate_limit_per_minute:
        return
    until = timezone.now() + timedelta(seconds=settings.CT_RATE_LIMIT_SLOWDOWN_SECONDS)
    bucket, _ = RateBucket.objects.get_or_create(system=system)
    RateBucket.objects.filter(pk=bucket.pk).update(slowed_until=until)
