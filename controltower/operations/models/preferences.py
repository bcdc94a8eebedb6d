"""What a person chose for themselves: the time zone their pages show times in."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from controltower.operations.models.ownership import _valid_time_zone


class UserPreference(models.Model):
    """One person's own settings. Without a chosen zone, pages use the browser's zone."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference"
    )
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[_valid_time_zone],
        help_text="IANA name (e.g. Europe/Berlin) the pages show times in; empty: the "
        "browser's zone.",
    )

    def __str__(self) -> str:
        return f"{self.user}: {self.time_zone or 'browser zone'}"
