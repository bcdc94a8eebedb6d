"""Serializer fields that hold the API's input to what the database can store, each refusal
a 400 naming the field (the rules are ``canonical.validators``), and say in the published
schema exactly what they answer."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from canonical.validators import MAX_ID, moment_validate, storable_text_validate, text_problem


def _refuse(error: DjangoValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(error.messages)


class MomentField(serializers.DateTimeField):
    """An ISO 8601 moment whose UTC offset is a real one."""

    def enforce_timezone(self, value):
        # Checked as sent, before DRF moves it into the server's time zone.
        if getattr(value, "tzinfo", None) is not None:
            try:
                moment_validate(value)
            except DjangoValidationError as error:
                raise _refuse(error) from None
        return super().enforce_timezone(value)


class IdField(serializers.IntegerField):
    """The id of a row: a positive integer that a 64-bit column holds."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


class NulFreeJSONField(serializers.JSONField):
    """JSON whose texts (keys included) hold no NUL character, which PostgreSQL refuses."""

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        try:
            storable_text_validate(value)
        except DjangoValidationError as error:
            raise _refuse(error) from None
        return value


class NulFreeDictField(serializers.DictField):
    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        try:
            storable_text_validate(value)
        except DjangoValidationError as error:
            raise _refuse(error) from None
        return value


@extend_schema_field(
    {"type": "string", "pattern": r"^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$", "example": "09:00:00"}
)
class TimeOfDayField(serializers.TimeField):
    """A local time of day ("09:00:00"): no UTC offset, so not JSON Schema's ``time``."""


class GuardedModelSerializer(serializers.ModelSerializer):
    """A model serializer whose generated fields apply the rules above."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: MomentField,
        models.TimeField: TimeOfDayField,
        models.JSONField: NulFreeJSONField,
    }


class KeyRelatedField(serializers.SlugRelatedField):
    """A related row named by its key (a username, a customer number): a key that no row can
    have (a NUL, which PostgreSQL refuses even in a query) is "no such row", not a 500."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and (problem := text_problem(data)):
            raise serializers.ValidationError(problem)
        return super().to_internal_value(data)
