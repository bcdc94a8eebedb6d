"""Data by role: which classes of sensitive field a reader sees, and the one mask for them.

Canonical models classify their sensitive fields in code (``canonical.classification``);
a role sees a class when it holds its permission (approvers and admins hold both, see
``controltower.operations.roles``). Viewers and operators see pricing and personal data
masked in every page, API answer, CSV export and diff, because every one of them masks
through ``record_mask``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.apps import apps

from canonical.classification import (
    MASKED,
    PERMISSIONS,
    DataClass,
    data_class,
    mask,
    mask_value,
)
from controltower.operations.services.audit import audit_redact


def visible_data_classes(user: Any) -> frozenset[DataClass]:
    """The classes of sensitive field ``user`` may read; none for nobody signed in."""
    if user is None or not getattr(user, "is_authenticated", False):
        return frozenset()
    return frozenset(cls for cls, perm in PERMISSIONS.items() if user.has_perm(perm))


def record_mask(
    values: Mapping[str, Any], *, model: Any, user: Any, placeholder: Any = MASKED
) -> dict[str, Any]:
    """``values`` (a record's fields by name) with what ``user`` may not see replaced by
    ``placeholder`` (``•••`` on pages and in exports; the API answers null)."""
    return mask(values, model=model, visible=visible_data_classes(user), placeholder=placeholder)


def value_mask(value: Any, *, data_class: DataClass, user: Any, placeholder: Any = MASKED) -> Any:
    """One value of class ``data_class`` as ``user`` may see it (a list's column, a total)."""
    return mask_value(
        value, data_class=data_class, visible=visible_data_classes(user), placeholder=placeholder
    )


def audit_values(*, object_type: str, before: Any, after: Any, user: Any) -> tuple[Any, Any]:
    """An audit event's before and after as ``user`` may read them: any secret masked (for
    every reader), and the audited canonical record's pricing and personal data masked like
    the record itself."""
    before, after = audit_redact(before), audit_redact(after)
    app_label, _, model_name = object_type.partition(".")
    if app_label != "canonical" or not model_name:
        return before, after
    try:
        model = apps.get_model(app_label, model_name)
    except LookupError:
        return before, after

    def shown(values: Any) -> Any:
        return record_mask(values, model=model, user=user) if isinstance(values, dict) else values

    return shown(before), shown(after)


def field_visible(*, model: Any, field: str, user: Any) -> bool:
    """Whether ``user`` may read one field of ``model`` (for sorting and filtering by it)."""
    cls = data_class(model, field)
    return cls is None or cls in visible_data_classes(user)
