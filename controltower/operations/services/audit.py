"""The audit log: who did what, when, before and after, and why."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.forms.models import model_to_dict

from controltower.operations.models import AuditEvent
from integrations.correlation import correlation_id_var


def snapshot(instance: models.Model, *, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """A JSON-safe picture of a model's fields, for the before/after of an audit row."""
    data = model_to_dict(instance, exclude=list(exclude))
    for key, value in data.items():  # many-to-many values come as model instances
        if isinstance(value, list) and value and isinstance(value[0], models.Model):
            data[key] = sorted(item.pk for item in value)
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


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
