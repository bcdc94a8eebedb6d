"""Inbound signing secrets: rotated in the tower, the replaced one valid for a grace period.

A system's senders sign with its secret (``integrations.signatures``). Rotating sets a new
secret, generated or given, stored encrypted; the secrets it replaces (the tower's, or
those of the environment before the tower had one) still verify for
``CT_SIGNING_SECRET_GRACE_HOURS``, so senders can be switched over without a refusal.
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from canonical.errors import ApplicationError
from integrations.models import ConnectedSystem

MIN_LENGTH = 24


def signing_secret_generate() -> str:
    return secrets.token_urlsafe(32)


def _valid(secret: str) -> str:
    if len(secret) < MIN_LENGTH or not secret.isascii() or not secret.isprintable():
        raise ApplicationError(
            "The signing secret was not changed.",
            errors={
                "secret": [
                    f"At least {MIN_LENGTH} printable ASCII characters; leave it out and the "
                    "tower generates one."
                ]
            },
        )
    if any(ch.isspace() or ch == "," for ch in secret):
        raise ApplicationError(
            "The signing secret was not changed.",
            errors={"secret": ["No spaces or commas."]},
        )
    return secret


def signing_secret_rotate(
    *, system_id: int, secret: str | None = None, now: dt.datetime | None = None
) -> tuple[ConnectedSystem, str]:
    """Gives a system a new inbound signing secret (``secret``, or a generated one) and keeps
    the ones it replaces valid for the grace period. Returns the system and the new secret,
    which is shown this once."""
    new = _valid(secret) if secret else signing_secret_generate()
    now = now or timezone.now()
    with transaction.atomic():
        system = ConnectedSystem.objects.select_for_update().get(pk=system_id)
        replaced = [s for s in system.current_signing_secrets() if s != new]
        system.signing_secret = new
        system.previous_signing_secrets = "\n".join(replaced)
        system.previous_signing_secrets_until = (
            now + dt.timedelta(hours=settings.CT_SIGNING_SECRET_GRACE_HOURS) if replaced else None
        )
        system.signing_secret_rotated_at = now
        system.save(
            update_fields=[
                "signing_secret",
                "previous_signing_secrets",
                "previous_signing_secrets_until",
                "signing_secret_rotated_at",
                "updated_at",
            ]
        )
    return system, new


def signing_grace_end(*, system_id: int) -> ConnectedSystem:
    """Ends the grace period at once: only the current secret verifies from now on."""
    with transaction.atomic():
        system = ConnectedSystem.objects.select_for_update().get(pk=system_id)
        system.previous_signing_secrets = ""
        system.previous_signing_secrets_until = None
        system.save(
            update_fields=[
                "previous_signing_secrets",
                "previous_signing_secrets_until",
                "updated_at",
            ]
        )
    return system
