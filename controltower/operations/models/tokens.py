"""API tokens: how machines sign in to the API, stored hashed."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from knox.models import AbstractAuthToken

from controltower.operations.choices import ApiTokenState


class ApiToken(AbstractAuthToken):
    """A person's API token (``Authorization: Token <key>``), made for one purpose.

    Only a hash of the key is stored (django-rest-knox: SHA-512 ``digest``), with its first
    characters (``token_key``) to find it and to name it in lists; the key itself is shown
    once, when it is made. A token expires, or is revoked; either way the row stays, so the
    list says what happened to it.
    """

    name = models.CharField(max_length=100, help_text="What the token is for.")
    last_used_at = models.DateTimeField(
        null=True, blank=True, help_text="When it last authenticated a request (to the minute)."
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.token_key}…)"

    @property
    def expired(self) -> bool:
        return self.expiry is not None and self.expiry <= timezone.now()

    @property
    def state(self) -> str:
        if self.revoked_at:
            return ApiTokenState.REVOKED
        return ApiTokenState.EXPIRED if self.expired else ApiTokenState.ACTIVE
