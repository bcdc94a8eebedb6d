"""Whether a schema still accepts every event its released copy accepted.

A released version is a promise to its senders: a change that refuses an event the
released file accepted (a property removed, a property made required, a type, enum or bound
narrowed, a pattern or format added or changed) must be a new version with an upcaster
instead. ``breaking_changes`` names each such change; the contract tests run it on every
file against ``released/``, and ``manage.py schemas_release`` refuses to release over one.
A change it cannot judge (a new ``anyOf``) counts as breaking: it errs on the side of a
new version.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from integrations.schemas.registry import (
    ENVELOPE,
    RELEASED_DIR,
    SCHEMA_DIR,
    schema_files_read,
)

# The keywords whose value only ever refuses more when it goes up (down for the maxima).
LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
# Refuses what it did not refuse before whenever it is added or its value changes.
EXACT = ("const", "pattern", "format", "not", "anyOf", "oneOf", "if", "then", "else", "$ref")


def _types(schema: dict[str, Any]) -> set[str] | None:
    value = schema.get("type")
    if value is None:
        return None
    return {value} if isinstance(value, str) else set(value)


def _at(path: str) -> str:
    return path or "(root)"


def breaking_changes(old: Any, new: Any, path: str = "") -> list[str]:
    """Each way ``new`` refuses an instance ``old`` accepted, as ``<path>: <change>``."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return [] if old == new else [f"{_at(path)}: schema changed from {old!r} to {new!r}"]
    changes: list[str] = []
    old_types, new_types = _types(old), _types(new)
    if new_types is not None:
        lost = (old_types or {"any type"}) - new_types
        if "integer" in lost and "number" in new_types:
            lost.discard("integer")
        if lost:
            was = ", ".join(sorted(old_types or {"any type"}))
            changes.append(
                f"{_at(path)}: type narrowed from {was} to {', '.join(sorted(new_types))}"
            )
    if "enum" in new:
        dropped = [v for v in old.get("enum", []) if v not in new["enum"]]
        if "enum" not in old:
            changes.append(f"{_at(path)}: enum added ({new['enum']!r})")
        elif dropped:
            changes.append(f"{_at(path)}: enum narrowed, {dropped!r} no longer allowed")
    for keyword in EXACT:
        if keyword in new and new[keyword] != old.get(keyword):
            verb = "changed" if keyword in old else "added"
            changes.append(f"{_at(path)}: {keyword} {verb} ({new[keyword]!r})")
    for keyword in LOWER_BOUNDS:
        if keyword in new and (keyword not in old or new[keyword] > old[keyword]):
            changes.append(f"{_at(path)}: {keyword} raised to {new[keyword]!r}")
    for keyword in UPPER_BOUNDS:
        if keyword in new and (keyword not in old or new[keyword] < old[keyword]):
            changes.append(f"{_at(path)}: {keyword} lowered to {new[keyword]!r}")
    added = sorted(set(new.get("required", [])) - set(old.get("required", [])))
    for name in added:
        changes.append(f"{_at(path)}: required property {name!r} added")
    old_properties = old.get("properties", {})
    new_properties = new.get("properties", {})
    for name, spec in old_properties.items():
        inner = f"{path}.{name}" if path else name
        if name not in new_properties:
            changes.append(f"{_at(path)}: property {name!r} removed")
        else:
            changes.extend(breaking_changes(spec, new_properties[name], inner))
    if new.get("additionalProperties") is False and old.get("additionalProperties") is not False:
        changes.append(f"{_at(path)}: additional properties no longer allowed")
    elif isinstance(new.get("additionalProperties"), dict):
        changes.extend(
            breaking_changes(
                old.get("additionalProperties", {}),
                new["additionalProperties"],
                f"{path}.*" if path else "*",
            )
        )
    if "items" in new:
        changes.extend(breaking_changes(old.get("items", {}), new["items"], f"{path}[]"))
    old_all, new_all = old.get("allOf", []), new.get("allOf", [])
    for index, part in enumerate(new_all):
        if index < len(old_all):
            changes.extend(breaking_changes(old_all[index], part, f"{path}(allOf[{index}])"))
        else:
            changes.append(f"{_at(path)}: allOf[{index}] added")
    return changes


def released_breaking_changes(
    *, current: Path = SCHEMA_DIR, released: Path = RELEASED_DIR
) -> list[str]:
    """Every breaking change of the schema files in ``current`` against those in
    ``released``, each naming its type and version (a new type or version is no change)."""
    changes: list[str] = []
    old_envelope, new_envelope = released / ENVELOPE, current / ENVELOPE
    if old_envelope.exists():
        changes.extend(
            f"envelope: {change}"
            for change in breaking_changes(
                json.loads(old_envelope.read_text()), json.loads(new_envelope.read_text())
            )
        )
    now = schema_files_read(current)
    for event_type, versions in schema_files_read(released).items():
        for version, was in versions.items():
            named = f"{event_type} v{version}"
            still = now.get(event_type, {}).get(version)
            if still is None:
                changes.append(f"{named}: the version was removed ({was.file_name})")
                continue
            changes.extend(
                f"{named}: {change}" for change in breaking_changes(was.schema, still.schema)
            )
    return changes


class BreakingChange(Exception):
    def __init__(self, changes: list[str]) -> None:
        super().__init__(
            "A released schema version would refuse events it accepted; make a new version "
            "with an upcaster instead:\n" + "\n".join(changes)
        )
        self.changes = changes


def schemas_release(*, current: Path = SCHEMA_DIR, released: Path = RELEASED_DIR) -> list[str]:
    """Copies the schema files to ``released`` (the new baseline of the contract tests) and
    returns their names; refuses, naming them, when a change breaks the released files."""
    changes = released_breaking_changes(current=current, released=released)
    if changes:
        raise BreakingChange(changes)
    released.mkdir(exist_ok=True)
    names = sorted(path.name for path in current.glob("*.json"))
    for name in names:
        shutil.copyfile(current / name, released / name)
    return names
