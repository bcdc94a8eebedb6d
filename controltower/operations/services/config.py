"""Configuration changes (teams, rules, calendars, SLA policies, windows): validated and audited.

The tower's pages and the API both save configuration through here, so each change
is checked the same way and leaves one audit row with its before and after.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction

from canonical.errors import ApplicationError
from controltower.operations.services.audit import audit_record, secrets_changed, snapshot


def _errors(error: ValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {
            ("non_field_errors" if field == "__all__" else field): [str(m) for m in messages]
            for field, messages in error.message_dict.items()
        }
    return {"non_field_errors": [str(m) for m in error.messages]}


def config_save(
    *, actor: Any, instance: models.Model, m2m: dict[str, Any] | None = None, reason: str = ""
) -> models.Model:
    """Validates and saves a configuration object (and its many-to-many values); audits it."""
    label = instance._meta.verbose_name
    try:
        instance.full_clean()
    except ValidationError as error:
        raise ApplicationError(f"The {label} was not saved.", errors=_errors(error)) from error
    model = type(instance)
    with transaction.atomic():
        before, current = None, None
        if instance.pk is not None:
            current = model.objects.select_for_update().filter(pk=instance.pk).first()
            before = _with_m2m(current, m2m) if current is not None else None
        created = before is None
        instance.save()
        for field, values in (m2m or {}).items():
            getattr(instance, field).set(values)
        audit_record(
            actor=actor,
            action=f"{instance._meta.model_name}.{'create' if created else 'update'}",
            obj=instance,
            before=before,
            after=secrets_changed(current, instance, _with_m2m(instance, m2m)),
            reason=reason,
        )
    return instance


def config_delete(*, actor: Any, instance: models.Model, reason: str = "") -> None:
    """Deletes a configuration object, keeping its last state in the audit log."""
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=f"{instance._meta.model_name}.delete",
            obj=instance,
            before=snapshot(instance),
            reason=reason,
        )
        try:
            instance.delete()
        except models.ProtectedError as error:
            raise ApplicationError(
                f"The {instance._meta.verbose_name} is still in use and was not deleted.",
                errors={"non_field_errors": [str(error.args[0])]},
                status_code=409,
            ) from error


def _with_m2m(instance: models.Model, m2m: dict[str, Any] | None) -> dict[str, Any]:
    data = snapshot(instance, exclude=list(m2m or ()))
    for field in m2m or ():
        data[field] = sorted(getattr(instance, field).values_list("pk", flat=True))
    return data
