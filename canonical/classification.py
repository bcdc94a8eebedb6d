"""Which canonical fields are sensitive, and the one function that hides them.

Each model names its sensitive fields beside the fields themselves, in a ``data_classes``
class attribute: a field name and its class, or, for a JSON field, a nested spec of the
keys inside it (``{"terms": {"rates": PRICING, "milestones": {"amount": PRICING}}}``).
``mask`` hides every field of a record (a dict of its fields, as a serializer, a page
or an export holds it) whose class the reader may not see. Who may see which class is
the operations layer's business (roles); this module knows only the classes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Union

from django.apps import apps
from django.db import models


class DataClass(models.TextChoices):
    """What makes a field sensitive."""

    PRICING = "pricing", "Pricing (rates and amounts)"
    PERSONAL = "personal", "Personal data (people's names and e-mails)"


# A field's class, or for a JSON field the classes of the keys inside it.
Spec = Mapping[str, Union[DataClass, "Spec"]]

# The permission (``app_label.codename``) that lets a reader see each class.
PERMISSIONS: dict[DataClass, str] = {
    DataClass.PRICING: "canonical.see_pricing",
    DataClass.PERSONAL: "canonical.see_personal",
}

# What a page or an export shows in place of a hidden value (the API answers null).
MASKED = "•••"


def data_classes(model: Any) -> Spec:
    """The sensitive fields of a model (or of a record, or a model's label)."""
    if isinstance(model, str):
        model = apps.get_model(model)
    return getattr(model, "data_classes", {})


def data_class(model: Any, field: str) -> DataClass | None:
    """The class of one field of a model (``terms.rates`` reaches into a JSON field)."""
    spec: Any = data_classes(model)
    for part in field.split("."):
        if not isinstance(spec, Mapping) or part not in spec:
            return None
        spec = spec[part]
    return spec if isinstance(spec, DataClass) else None


def mask(
    values: Mapping[str, Any],
    *,
    model: Any,
    visible: Collection[DataClass],
    placeholder: Any = MASKED,
) -> dict[str, Any]:
    """``values`` with every field of ``model`` whose class is not in ``visible`` replaced
    by ``placeholder``. An empty value stays empty: that there is none is not a secret."""
    return _mask(values, data_classes(model), frozenset(visible), placeholder)


def mask_value(
    value: Any, *, data_class: DataClass, visible: Collection[DataClass], placeholder: Any = MASKED
) -> Any:
    """One value of class ``data_class`` (a list's column), hidden as ``mask`` hides a field."""
    return _mask({"value": value}, {"value": data_class}, frozenset(visible), placeholder)["value"]


def _mask(values: Any, spec: Spec, visible: frozenset[DataClass], placeholder: Any) -> Any:
    if isinstance(values, list):
        return [_mask(item, spec, visible, placeholder) for item in values]
    if not isinstance(values, Mapping):
        return values
    hidden = dict(values)
    for name, cls in spec.items():
        if name not in hidden:
            continue
        if isinstance(cls, DataClass):
            if cls not in visible and hidden[name] not in (None, "", [], {}):
                hidden[name] = (
                    {key: placeholder for key in hidden[name]}
                    if isinstance(hidden[name], Mapping)
                    else placeholder
                )
        else:
            hidden[name] = _mask(hidden[name], cls, visible, placeholder)
    return hidden
