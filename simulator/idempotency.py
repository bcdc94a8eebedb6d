"""Idempotency keys where the vendor offers them: the simulated ERP's POST.

A POST carrying ``X-NetSuite-Idempotency-Key`` (or ``Idempotency-Key``) that repeats a
key the system saw within 24 hours is answered what the first one was answered, and
creates nothing. The keys are rows (``IdempotencyKey``), so that the server's threads
and processes share them, and two requests with one key at once take turns on its row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from simulator.locking import row_claim
from simulator.models import IdempotencyKey, SimulatedSystem

IDEMPOTENCY_WINDOW = timedelta(hours=24)
IDEMPOTENCY_KEY_MAX_LENGTH = 200


@dataclass(frozen=True)
class StoredAnswer:
    """What a create was answered, as a repeat of its key gets it again."""

    status: int
    location: str = ""
    body: str = ""


def answer_once(
    *, system: SimulatedSystem, key: str, answer: Callable[[], StoredAnswer]
) -> StoredAnswer:
    """``answer()`` the first time ``key`` is seen within the window, its stored answer after.

    ``answer`` does the create; when it raises, nothing is stored and the key stays free.
    A repeat sent while the first request is still being answered waits for it.
    """
    idempotency_keys_prune()
    now = timezone.now()
    with transaction.atomic():
        entry, claimed = row_claim(
            IdempotencyKey, system=system, key=key[:IDEMPOTENCY_KEY_MAX_LENGTH]
        )
        if (
            not claimed
            and entry.status is not None
            and entry.created_at >= now - IDEMPOTENCY_WINDOW
        ):
            return StoredAnswer(status=entry.status, location=entry.location, body=entry.body)
        stored = answer()
        entry.status = stored.status
        entry.location = stored.location[:500]
        entry.body = stored.body
        entry.created_at = now
        entry.save(update_fields=["status", "location", "body", "created_at"])
        return stored


def idempotency_keys_prune() -> int:
    """Forgets the keys older than the window, of every system; answers how many."""
    deleted, _ = IdempotencyKey.objects.filter(
        created_at__lt=timezone.now() - IDEMPOTENCY_WINDOW
    ).delete()
    return deleted
