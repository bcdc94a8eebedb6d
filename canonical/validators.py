"""Rules every door applies to what it is given, whatever the field.

- A moment has a time zone whose UTC offset is a real one (between -14:00 and +14:00, the
  widest any place uses) and lies within the years the database stores once in UTC. Python
  accepts offsets up to 23:59 and PostgreSQL only to 15:59, so without this rule an absurd
  offset would reach the database and fail there.
- Text has no NUL character: PostgreSQL cannot store one, in a text column or in JSON.
- An id is a positive integer that a 64-bit column can hold.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError

MAX_UTC_OFFSET = timedelta(hours=14)
MAX_ID = 2**63 - 1

OFFSET_MESSAGE = "Give a time zone with a UTC offset between -14:00 and +14:00."
RANGE_MESSAGE = "This moment is outside the years that can be stored."
NUL_MESSAGE = "Null characters are not allowed."


def moment_validate(value: datetime) -> datetime:
    """The moment in UTC, or a ValidationError saying what is wrong with it."""
    offset = value.utcoffset()
    if offset is not None and abs(offset) > MAX_UTC_OFFSET:
        raise ValidationError(OFFSET_MESSAGE, code="utc_offset")
    try:
        return value.astimezone(UTC) if offset is not None else value
    except OverflowError:
        raise ValidationError(RANGE_MESSAGE, code="out_of_range") from None


def has_nul(value: Any) -> bool:
    """Whether a NUL character is anywhere in a text or a JSON value (keys included)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(key) or has_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(has_nul(item) for item in value)
    return False


def nul_path(value: Any, path: str = "") -> str | None:
    """The path (``data.name``, ``lines[2]``) of the first text holding a NUL, or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return inner
            if (found := nul_path(item, inner)) is not None:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            if (found := nul_path(item, f"{path}[{index}]")) is not None:
                return found
    return None


def nul_free_validate(value: Any) -> None:
    if has_nul(value):
        raise ValidationError(NUL_MESSAGE, code="null_characters_not_allowed")
