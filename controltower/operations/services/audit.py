"""The audit log: who did what, when, before and after, and why."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from typing import Any

from django.apps import apps
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.forms.models import model_to_dict

from controltower.operations.models import AuditEvent
from integrations.correlation import correlation_id_var
from integrations.crypto import SECRET_WORDS, secret_field_names, secret_mask


def snapshot(instance: models.Model, *, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """A JSON-safe picture of a model's fields, for the before/after of an audit row.

    A secret (an encrypted field) is pictured as whether it is set, never by its value."""
    data = model_to_dict(instance, exclude=list(exclude))
    for key, value in data.items():  # many-to-many values come as model instances
        if isinstance(value, list) and value and isinstance(value[0], models.Model):
            data[key] = sorted(item.pk for item in value)
    for name in secret_field_names(type(instance)):
        if name in data:
            data[name] = secret_mask(data[name]) if data[name] else ""
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def secrets_changed(
    before: models.Model | None, after: models.Model, picture: dict[str, Any]
) -> dict[str, Any]:
    """``picture`` (a snapshot of ``after``) saying ``changed`` of each secret that was
    given a new value: the audit log records that a secret changed, not what it became.
    (A new object's secrets say ``set``, as the snapshot has them.)"""
    if before is None:
        return picture
    for name in secret_field_names(type(after)):
        new = getattr(after, name)
        if new and getattr(before, name) != new and name in picture:
            picture[name] = "changed"
    return picture


@cache
def _secret_keys() -> frozenset[str]:
    names = {"secret", "signing_secret", "token", "webhook_url"}
    for model in apps.get_models():
        names.update(secret_field_names(model))
    return frozenset(names)


def audit_redact(value: Any) -> Any:
    """An audit row's before or after with any secret value masked, as it is shown.

    Rows written since secrets are masked at the source hold only ``set``, ``not set`` or
    ``changed``; older rows may hold a value, and it is not shown either."""
    if isinstance(value, dict):
        return {
            key: (
                secret_mask(item)
                if key in _secret_keys() and isinstance(item, str) and item not in SECRET_WORDS
                else audit_redact(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [audit_redact(item) for item in value]
    return value


def audit_record(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    object_repr: str = "",
    before: Any = None,
    after: Any = None,
    reason: str = "",
) -> AuditEvent:
    user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
        object_repr = object_repr or str(obj)
    return AuditEvent.objects.create(
        actor=user,
        actor_name=user.get_username() if user else "system",
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        object_repr=object_repr[:200],
        before=before,
        after=after,
        reason=reason,
        correlation_id=correlation_id_var.get() if correlation_id_var.get() != "-" else "",
    )
