"""Rules every door applies to what it is given, whatever the field.

- A moment has a time zone whose UTC offset is a real one (between -14:00 and +14:00, the
  widest any place uses) and lies within the years the database stores once in UTC. Python
  accepts offsets up to 23:59 and PostgreSQL only to 15:59, so without this rule an absurd
  offset would reach the database and fail there.
- Text has no NUL character and no unpaired surrogate: PostgreSQL cannot store the first,
  in a text column or in JSON, and no database driver can encode the second.
- An id is a positive integer that a 64-bit column can hold.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError

MAX_UTC_OFFSET = timedelta(hours=14)
MAX_ID = 2**63 - 1

OFFSET_MESSAGE = (
    "Give a time zone whose UTC offset is between -14:00 and +14:00, the widest in use."
)
RANGE_MESSAGE = "This moment is outside the years that can be stored."
NUL_MESSAGE = "Null characters are not allowed."
SURROGATE_MESSAGE = "Unpaired surrogate characters are not allowed."
SURROGATE = re.compile("[\ud800-\udfff]")


def moment_validate(value: datetime) -> datetime:
    """The moment in UTC, or a ValidationError saying what is wrong with it."""
    offset = value.utcoffset()
    if offset is not None and abs(offset) > MAX_UTC_OFFSET:
        raise ValidationError(OFFSET_MESSAGE, code="utc_offset")
    try:
        return value.astimezone(UTC) if offset is not None else value
    except OverflowError:
        raise ValidationError(RANGE_MESSAGE, code="out_of_range") from None


def text_problem(text: str) -> str | None:
    """Why a text cannot be stored (a NUL, a lone surrogate), or None."""
    if "\x00" in text:
        return NUL_MESSAGE
    if SURROGATE.search(text):
        return SURROGATE_MESSAGE
    return None


def unstorable_text(value: Any, path: str = "") -> tuple[str, str] | None:
    """The path (``data.name``, ``lines[2]``, ``""`` for the value itself) of the first text
    in a text or JSON value (keys included) that cannot be stored, and why; or None."""
    if isinstance(value, str):
        problem = text_problem(value)
        return (path, problem) if problem else None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if problem := text_problem(str(key)):
                return inner, problem
            if (found := unstorable_text(item, inner)) is not None:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            if (found := unstorable_text(item, f"{path}[{index}]")) is not None:
                return found
    return None


def storable_text_validate(value: Any) -> None:
    if (found := unstorable_text(value)) is not None:
        path, problem = found
        raise ValidationError(f"{path}: {problem}" if path else problem, code="unstorable_text")
