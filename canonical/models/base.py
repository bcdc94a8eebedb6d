from __future__ import annotations

from django.db import models


class CanonicalRecord(models.Model):
    """What every canonical record carries: a version and the system it came from.

    The version is the one the source system sent (a counter or, for some vendors, a time
    in epoch milliseconds, hence 64 bits); an update carrying a lower or equal version is
    not applied (see ``canonical.services``).
    """

    version = models.PositiveBigIntegerField(
        default=1, help_text="Grows on every change; an update older than this one is stale."
    )
    source_system = models.CharField(
        max_length=50,
        blank=True,
        db_index=True,
        help_text="Slug of the connected system the record came from.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        abstract = True


def currency_field(**kwargs) -> models.CharField:
    return models.CharField(max_length=3, help_text="ISO 4217 code, e.g. USD.", **kwargs)
