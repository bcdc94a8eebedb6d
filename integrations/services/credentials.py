"""The credentials the tower presents when it calls a system (``OutboundAuth``).

An API key goes in its header; HTTP Basic carries a user and password; Harvest wants a
personal access token and its account id; OAuth 2.0 client credentials get an access
token from the system's token endpoint, shared by every worker and fetched again by one
of them shortly before it expires (or at once when the system says it no longer takes
it). A refusal of the credentials themselves is a business exception of the system's
(``authentication_failed``), waiting on ``system_auth:<slug>``: the work stops instead
of retrying into a storm, and runs again once a call with fixed credentials works.
"""

from __future__ import annotations

import base64
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from integrations.choices import AuthKind, ErrorClass, ExceptionType
from integrations.clients.oauth import TokenRefused, token_fetch
from integrations.errors import IntegrationError
from integrations.models import AccessToken, ConnectedSystem, OutboundAuth
from integrations.services.exceptions import exceptions_clear, waiting_key
from integrations.services.locks import LockBusy, named_lock


def auth_of(system: ConnectedSystem) -> OutboundAuth | None:
    auth = OutboundAuth.objects.filter(system=system).first()
    return auth if auth is not None and auth.kind != AuthKind.NONE else None


def auth_headers(
    system: ConnectedSystem, auth: OutboundAuth | None, *, fresh_token: bool = False
) -> dict[str, str]:
    """The headers that prove the tower to ``system`` (none when it needs none)."""
    if auth is None:
        return {}
    if auth.kind == AuthKind.API_KEY:
        return {auth.header_name or "X-Api-Key": f"{auth.header_prefix}{auth.secret}"}
    if auth.kind == AuthKind.BASIC:
        pair = base64.b64encode(f"{auth.username}:{auth.secret}".encode()).decode()
        return {"Authorization": f"Basic {pair}"}
    if auth.kind == AuthKind.HARVEST:
        return {"Authorization": f"Bearer {auth.secret}", "Harvest-Account-Id": auth.username}
    if auth.kind == AuthKind.OAUTH2_CLIENT_CREDENTIALS:
        return {"Authorization": f"Bearer {access_token(system, auth, fresh=fresh_token)}"}
    return {}


def access_token(system: ConnectedSystem, auth: OutboundAuth, *, fresh: bool = False) -> str:
    """A valid access token for ``system``: the one every worker shares, or a new one when
    it is about to expire (or ``fresh``: the system refused it). One worker fetches it;
    the others wait for it and use it."""
    asked_at = timezone.now()
    held = AccessToken.objects.filter(system=system).first()
    if held is not None and not fresh and _valid(held, asked_at):
        return held.token
    try:
        with named_lock(f"oauth:{system.pk}", timeout=settings.CT_OUTBOUND_TIMEOUT_SECONDS * 2):
            held = AccessToken.objects.filter(system=system).first()
            # Another worker fetched one while this one waited: use it.
            if held is not None and held.obtained_at >= asked_at and _valid(held, timezone.now()):
                return held.token
            if held is not None and not fresh and _valid(held, timezone.now()):
                return held.token
            if not auth.token_url:
                raise authentication_failure(
                    system, f"{system.name} has no token endpoint configured."
                )
            try:
                token, lifetime = token_fetch(system, auth)
            except TokenRefused as refused:
                raise authentication_failure(
                    system,
                    f"{system.name}'s token endpoint refused the tower's client ({refused.why}).",
                ) from None
            now = timezone.now()
            with transaction.atomic():
                AccessToken.objects.update_or_create(
                    system=system,
                    defaults={
                        "token": token,
                        "obtained_at": now,
                        "expires_at": now + timedelta(seconds=lifetime),
                    },
                )
            return token
    except LockBusy:
        raise IntegrationError.transient_failure(
            f"Another worker is fetching {system.name}'s access token; this call waits for it.",
            retry_after=1.0,
            system=system,
        ) from None


def _valid(held: AccessToken, now) -> bool:
    """Whether ``held`` lasts past the refresh margin: a fifth of its life, at most a minute."""
    life = (held.expires_at - held.obtained_at).total_seconds()
    margin = min(settings.CT_TOKEN_REFRESH_MARGIN_SECONDS, life / 5)
    return held.expires_at - timedelta(seconds=margin) > now


def authentication_failure(system: ConnectedSystem, message: str) -> IntegrationError:
    """The business exception of credentials a system refuses: owned like any exception,
    it holds the work until a call with fixed credentials works."""
    return IntegrationError.business(
        f"{message} Fix the system's credentials on its connection page and test the "
        "connection; the held work then runs by itself.",
        code=ExceptionType.AUTHENTICATION_FAILED,
        error_class=ErrorClass.AUTHENTICATION,
        waiting_on=waiting_key("system_auth", system.slug),
        details={"system": system.slug},
        system=system,
    )


def authentication_works(system: ConnectedSystem) -> int:
    """A call with the system's credentials worked: what waited for them runs again.
    Returns how many exceptions that closed."""
    with transaction.atomic():
        return exceptions_clear(
            waiting_on=waiting_key("system_auth", system.slug),
            resolution=f"A call to {system.name} with its credentials worked.",
        )


def token_forget(system: ConnectedSystem) -> None:
    """Drops the shared access token (the credentials changed)."""
    AccessToken.objects.filter(system=system).delete()
