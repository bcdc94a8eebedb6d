"""A person's own settings."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django.db import transaction

from canonical.errors import ApplicationError
from controltower.operations.models import UserPreference
from controltower.operations.services.audit import audit_record


def user_time_zone_set(*, user: Any, time_zone: str) -> UserPreference:
    """Sets the zone ``user``'s pages show times in; an empty one goes back to the browser's."""
    time_zone = (time_zone or "").strip()
    if time_zone and time_zone not in zoneinfo.available_timezones():
        raise ApplicationError(
            f"{time_zone!r} is not a known time zone (e.g. Europe/Berlin).",
            errors={"time_zone": ["Not a known time zone."]},
        )
    with transaction.atomic():
        preference, _ = UserPreference.objects.select_for_update().get_or_create(user=user)
        before = preference.time_zone
        preference.time_zone = time_zone
        preference.save(update_fields=["time_zone"])
        if before != time_zone:
            audit_record(
                actor=user,
                action="preference.time_zone",
                obj=preference,
                before={"time_zone": before},
                after={"time_zone": time_zone},
            )
    return preference
