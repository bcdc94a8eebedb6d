"""A person's own settings, read."""

from __future__ import annotations

from typing import Any

from controltower.operations.models import UserPreference


def user_time_zone(*, user: Any) -> str:
    """The zone ``user`` chose, or "" (the browser's)."""
    if not getattr(user, "is_authenticated", False):
        return ""
    return (
        UserPreference.objects.filter(user=user).values_list("time_zone", flat=True).first() or ""
    )
