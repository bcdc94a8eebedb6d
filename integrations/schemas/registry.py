"""Every version of every canonical event type, read from ``integrations/schemas/canonical/``.

A type's first version is ``<type>.json``; a later one is ``<type>.v<n>.json`` beside it.
The highest version is the current one: the one the flows read. A version announced for
retirement says so in its file with ``"x-deprecated": "<YYYY-MM-DD>"``, the day from which
senders should send a later one; until it is removed (a breaking change the contract tests
refuse) it is still accepted and upcast.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parent / "canonical"
# The schema files as last released: what the contract tests compare the current ones with.
RELEASED_DIR = Path(__file__).resolve().parent / "released"
ENVELOPE = "envelope.json"
# What an event that names no ``schema_version`` is read as: every type has it, so a sender
# written before versions existed keeps working.
FIRST_VERSION = 1
FILE_NAME = re.compile(r"^(?P<type>[a-z_]+\.[a-z_]+)(?:\.v(?P<version>[1-9][0-9]*))?\.json$")


@dataclass(frozen=True)
class SchemaVersion:
    """One version of one event type's schema."""

    event_type: str
    version: int
    schema: dict[str, Any]
    file_name: str

    @property
    def deprecated_from(self) -> date | None:
        announced = self.schema.get("x-deprecated")
        return date.fromisoformat(announced) if announced else None

    @property
    def deprecated(self) -> bool:
        """Announced for retirement (from its date on, senders should send a later one)."""
        return self.deprecated_from is not None

    @property
    def examples(self) -> list[Any]:
        return list(self.schema.get("examples", []))


def file_version(name: str) -> tuple[str, int] | None:
    """``("time_entry.approved", 2)`` for ``time_entry.approved.v2.json``; None for a file
    that is no event type's schema (the envelope)."""
    if name == ENVELOPE or (match := FILE_NAME.match(name)) is None:
        return None
    return match["type"], int(match["version"] or FIRST_VERSION)


def schema_files_read(directory: Path) -> dict[str, dict[int, SchemaVersion]]:
    """Each type's versions in ``directory``, lowest first."""
    found: dict[str, dict[int, SchemaVersion]] = {}
    for path in sorted(directory.glob("*.json")):
        named = file_version(path.name)
        if named is None:
            continue
        event_type, version = named
        found.setdefault(event_type, {})[version] = SchemaVersion(
            event_type=event_type,
            version=version,
            schema=json.loads(path.read_text()),
            file_name=path.name,
        )
    return {event_type: dict(sorted(versions.items())) for event_type, versions in found.items()}


@cache
def schema_versions() -> dict[str, dict[int, SchemaVersion]]:
    """The current schema files, read once per process."""
    return schema_files_read(SCHEMA_DIR)


@cache
def envelope() -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / ENVELOPE).read_text())


def current_version(event_type: str) -> int:
    return max(schema_versions()[event_type])


def current_schema(event_type: str) -> dict[str, Any]:
    return schema_versions()[event_type][current_version(event_type)].schema
