"""A person's own settings."""

from __future__ import annotations

import zoneinfo

from django import forms

BROWSER_ZONE = ""


def zone_choices() -> list[tuple[str, str]]:
    return [
        (BROWSER_ZONE, "My browser's zone"),
        *((z, z) for z in sorted(zoneinfo.available_timezones())),
    ]


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(
        label="Time zone",
        required=False,
        choices=zone_choices,
        help_text="Every time on the pages is shown in this zone, and dates you type are read "
        "in it.",
    )
