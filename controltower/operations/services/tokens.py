"""API tokens: made (the key shown once), listed by their first characters, expired and
revoked; each change audited. Stored hashed by django-rest-knox; see ``ApiToken``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from canonical.errors import ApplicationError, ConflictError, NotFoundError
from controltower.operations.models import ApiToken
from controltower.operations.services.audit import audit_record

MAX_DAYS = 3650
# A token's use is written at most this often: a busy machine does not write on every call.
USE_RESOLUTION = dt.timedelta(minutes=1)
MANAGE_ALL = "controltower.delete_apitoken"  # the admin role: every user's tokens


def _state(token: ApiToken) -> dict[str, Any]:
    return {
        "user": token.user.get_username(),
        "name": token.name,
        "prefix": token.token_key,
        "expiry": token.expiry.isoformat() if token.expiry else None,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


def _manages_all(actor: Any) -> bool:
    return actor is None or actor.has_perm(MANAGE_ALL)  # None: the tower itself, a command


def api_tokens_visible(*, actor: Any) -> QuerySet[ApiToken]:
    """The tokens a person may see: their own; an admin's, everyone's."""
    tokens = ApiToken.objects.select_related("user", "revoked_by")
    if _manages_all(actor):
        return tokens
    return tokens.filter(user=actor)


def api_token_create(
    *,
    actor: Any,
    name: str,
    days: int | None = None,
    username: str | None = None,
    reason: str = "",
) -> tuple[ApiToken, str]:
    """Makes a token for ``actor`` (or, by an admin, for ``username``) that expires in ``days``
    (``CT_API_TOKEN_DAYS`` by default). Returns the token and its key, shown this once."""
    name = name.strip()
    if not name:
        raise ApplicationError(
            "The token was not made.", errors={"name": ["Say what the token is for."]}
        )
    days = settings.CT_API_TOKEN_DAYS if days is None else days
    if not 1 <= days <= MAX_DAYS:
        raise ApplicationError(
            "The token was not made.",
            errors={"days": [f"Between 1 and {MAX_DAYS} days."]},
        )
    user = actor
    if username and (actor is None or username != actor.get_username()):
        if not _manages_all(actor):
            raise ApplicationError(
                "Only an admin may make a token for someone else.", status_code=403
            )
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise ApplicationError(
                "The token was not made.", errors={"user": [f"No active user {username!r}."]}
            )
    with transaction.atomic():
        token, key = ApiToken.objects.create(
            user=user, expiry=dt.timedelta(days=days), name=name[:100]
        )
        audit_record(
            actor=actor,
            action="api_token.create",
            obj=token,
            object_id=token.token_key,
            after=_state(token),
            reason=reason,
        )
    return token, key


def api_token_revoke(*, actor: Any, prefix: str, reason: str = "") -> ApiToken:
    """Revokes a token at once (its owner, or an admin); audited. The row stays, revoked."""
    with transaction.atomic():
        token = (
            api_tokens_visible(actor=actor)
            .select_for_update(of=("self",))
            .filter(token_key=prefix)
            .first()
        )
        if token is None:
            raise NotFoundError(f"No token {prefix}… of yours.")
        if token.revoked_at is not None:
            raise ConflictError(f"The token {prefix}… was revoked already.")
        before = _state(token)
        token.revoked_at = timezone.now()
        token.revoked_by = actor if getattr(actor, "is_authenticated", False) else None
        token.save(update_fields=["revoked_at", "revoked_by"])
        audit_record(
            actor=actor,
            action="api_token.revoke",
            obj=token,
            object_id=token.token_key,
            before=before,
            after=_state(token),
            reason=reason,
        )
    return token


def api_tokens_revoke_all(*, actor: Any, user: Any, reason: str = "") -> int:
    """Revokes every token of ``user`` still in use (``createtoken --rotate``)."""
    live = ApiToken.objects.filter(user=user, revoked_at__isnull=True).filter(
        Q(expiry__isnull=True) | Q(expiry__gt=timezone.now())
    )
    prefixes = list(live.values_list("token_key", flat=True))
    for prefix in prefixes:
        api_token_revoke(actor=actor, prefix=prefix, reason=reason)
    return len(prefixes)


def api_token_used(*, token: ApiToken) -> None:
    """Records that a token authenticated a request, at most once a minute."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= USE_RESOLUTION:
        ApiToken.objects.filter(digest=token.digest).update(last_used_at=now)
        token.last_used_at = now
