"""People's actions on a system's connection: setting how the tower authenticates to it
(an admin), and testing it (an operator or an admin). Both are audited; a secret is never
written to the audit log, only that it was set or changed."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from canonical.errors import ApplicationError, NotFoundError
from controltower.operations.services.audit import audit_record
from integrations.choices import AuthKind
from integrations.crypto import secret_mask
from integrations.models import ConnectedSystem, OutboundAuth
from integrations.services.connections import ConnectionResult, connection_test
from integrations.services.credentials import token_forget
from integrations.services.signing import signing_grace_end, signing_secret_rotate

# What each kind needs before the tower can use it.
REQUIRED = {
    AuthKind.API_KEY: ("secret", "header_name"),
    AuthKind.BASIC: ("username", "secret"),
    AuthKind.OAUTH2_CLIENT_CREDENTIALS: ("username", "secret", "token_url"),
    AuthKind.HARVEST: ("username", "secret"),
}
LABELS = {
    "username": "the user, client id or account id",
    "secret": "the secret",
    "header_name": "the header",
    "token_url": "the token endpoint",
}


def _system(system_id: int) -> ConnectedSystem:
    system = ConnectedSystem.objects.filter(pk=system_id).first()
    if system is None:
        raise NotFoundError(f"System {system_id} does not exist.")
    return system


def _state(auth: OutboundAuth) -> dict[str, Any]:
    return {
        "kind": auth.kind,
        "username": auth.username,
        "secret": secret_mask(auth.secret),
        "header_name": auth.header_name,
        "header_prefix": auth.header_prefix,
        "token_url": auth.token_url,
        "scope": auth.scope,
    }


def connection_set(
    *,
    system_id: int,
    actor: Any,
    kind: str,
    username: str = "",
    secret: str | None = None,
    header_name: str = "",
    header_prefix: str = "",
    token_url: str = "",
    scope: str = "",
    reason: str = "",
) -> OutboundAuth:
    """Sets how the tower authenticates to a system. ``secret`` None keeps the stored one
    (it is never shown, so a form that changes something else leaves it empty)."""
    if kind not in AuthKind.values:
        raise ApplicationError(
            f"{kind!r} is not a way of authenticating; one of {', '.join(AuthKind.values)}.",
            errors={"kind": ["Unknown."]},
        )
    system = _system(system_id)
    with transaction.atomic():
        auth, _ = OutboundAuth.objects.select_for_update().get_or_create(system=system)
        before = _state(auth)
        secret_changed = secret is not None and secret != ""
        auth.kind = kind
        auth.username = username.strip()
        auth.header_name = header_name.strip() or auth.header_name or "X-Api-Key"
        auth.header_prefix = header_prefix
        auth.token_url = token_url.strip()
        auth.scope = scope.strip()
        if secret_changed:
            auth.secret = secret
        missing = [
            LABELS[name] for name in REQUIRED.get(AuthKind(kind), ()) if not getattr(auth, name)
        ]
        if missing:
            raise ApplicationError(
                f"{AuthKind(kind).label} needs {', '.join(missing)}.",
                errors={
                    name: ["Required."]
                    for name in REQUIRED[AuthKind(kind)]
                    if not getattr(auth, name)
                },
            )
        auth.save()
        token_forget(system)
        after = _state(auth)
        if secret_changed:
            after["secret"] = "changed"
        audit_record(
            actor=actor,
            action="system.connection_set",
            obj=system,
            before=before,
            after=after,
            reason=reason,
        )
    return auth


def connection_check(*, system_id: int, actor: Any) -> ConnectionResult:
    """Tests a system's connection as a person asked; the answer is audited."""
    system = _system(system_id)
    result = connection_test(system)
    audit_record(
        actor=actor,
        action="system.connection_test",
        obj=system,
        after={"ok": result.ok, "status": result.status, "message": result.message},
    )
    return result


def _signing_state(system: ConnectedSystem) -> dict[str, Any]:
    until = system.previous_signing_secrets_until
    return {
        "signing_secret": f"set ({system.signing_secret_source})"
        if system.current_signing_secrets()
        else "not set",
        "previous_valid_until": until.isoformat()
        if until and system.previous_secrets_valid()
        else None,
    }


def signing_secret_rotate_by(
    *, system_id: int, actor: Any, secret: str | None = None, reason: str = ""
) -> tuple[ConnectedSystem, str]:
    """An admin rotates a system's inbound signing secret: the new one (returned, shown once)
    verifies at once, the replaced ones until the grace period ends. Audited, without the
    secret."""
    before = _signing_state(_system(system_id))
    system, new = signing_secret_rotate(system_id=system_id, secret=secret)
    audit_record(
        actor=actor,
        action="system.signing_secret_rotate",
        obj=system,
        before=before,
        after={**_signing_state(system), "signing_secret": "changed"},
        reason=reason,
    )
    return system, new


def signing_grace_end_by(*, system_id: int, actor: Any, reason: str = "") -> ConnectedSystem:
    """An admin ends a rotation's grace period: the replaced secrets stop verifying now."""
    before = _signing_state(_system(system_id))
    system = signing_grace_end(system_id=system_id)
    audit_record(
        actor=actor,
        action="system.signing_grace_end",
        obj=system,
        before=before,
        after=_signing_state(system),
        reason=reason,
    )
    return system
