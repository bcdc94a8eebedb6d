"""Filters every FilterSet uses for moments and ids, so that no query string reaches the
database with a value it cannot hold: a refusal is a 400 naming the filter."""

from __future__ import annotations

import django_filters as filters
from django import forms
from django_filters.fields import IsoDateTimeField

from canonical.validators import MAX_ID, moment_validate


class MomentField(IsoDateTimeField):
    def clean(self, value):
        cleaned = super().clean(value)
        return moment_validate(cleaned) if cleaned is not None else None


class MomentFilter(filters.IsoDateTimeFilter):
    """An ISO 8601 moment with a real UTC offset (see ``canonical.validators``)."""

    field_class = MomentField


class IdFilter(filters.NumberFilter):
    """The id of a related row: a positive integer that a 64-bit column holds."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)
