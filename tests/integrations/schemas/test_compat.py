"""The comparator that keeps a released schema version from refusing what it accepted."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from integrations.schemas.compat import (
    BreakingChange,
    breaking_changes,
    released_breaking_changes,
    schemas_release,
)
from integrations.schemas.registry import SCHEMA_DIR

BASE = {
    "type": "object",
    "required": ["number"],
    "properties": {
        "number": {"type": "string", "maxLength": 40},
        "hours": {"type": "number", "exclusiveMinimum": 0, "maximum": 24},
        "count": {"type": "integer"},
        "status": {"enum": ["planned", "active"]},
        "notes": {"type": "string"},
        "lines": {"type": "array", "items": {"type": "object", "properties": {}}},
    },
    "additionalProperties": False,
}


def changed(edit) -> dict:
    schema = copy.deepcopy(BASE)
    edit(schema)
    return schema


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda s: s["properties"].pop("notes"), "(root): property 'notes' removed"),
        (lambda s: s["required"].append("hours"), "(root): required property 'hours' added"),
        (
            lambda s: s["properties"]["hours"].update(type="string"),
            "hours: type narrowed from number to string",
        ),
        (
            lambda s: s["properties"]["status"].update(enum=["active"]),
            "status: enum narrowed, ['planned'] no longer allowed",
        ),
        (
            lambda s: s["properties"]["notes"].update(enum=["a"]),
            "notes: enum added (['a'])",
        ),
        (
            lambda s: s["properties"]["number"].update(maxLength=20),
            "number: maxLength lowered to 20",
        ),
        (
            lambda s: s["properties"]["hours"].update(exclusiveMinimum=1),
            "hours: exclusiveMinimum raised to 1",
        ),
        (
            lambda s: s["properties"]["notes"].update(pattern="^[a-z]+$"),
            "notes: pattern added ('^[a-z]+$')",
        ),
        (
            lambda s: s["properties"]["lines"]["items"].update(additionalProperties=False),
            "lines[]: additional properties no longer allowed",
        ),
        (
            lambda s: s["properties"]["lines"]["items"].update(required=["role"]),
            "lines[]: required property 'role' added",
        ),
    ],
    ids=[
        "property removed",
        "required added",
        "type narrowed",
        "enum narrowed",
        "enum added",
        "max length lowered",
        "minimum raised",
        "pattern added",
        "nested additional properties closed",
        "nested required added",
    ],
)
def test_a_change_that_refuses_what_was_accepted_is_named(edit, expected):
    assert breaking_changes(BASE, changed(edit)) == [expected]


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: s["properties"].update(minutes={"type": "integer"}),
        lambda s: s["properties"]["count"].update(type="number"),
        lambda s: s["properties"]["notes"].update(type=["string", "null"]),
        lambda s: s["properties"]["status"]["enum"].append("closed"),
        lambda s: s["properties"]["number"].update(maxLength=80, description="Longer now."),
        lambda s: s["required"].clear(),
        lambda s: s.update(additionalProperties=True),
    ],
    ids=[
        "optional property added",
        "integer widened to number",
        "null allowed",
        "enum widened",
        "max length raised",
        "required dropped",
        "additional properties opened",
    ],
)
def test_a_change_that_accepts_more_is_not_breaking(edit):
    assert breaking_changes(BASE, changed(edit)) == []


def write(directory: Path, name: str, schema: dict) -> None:
    directory.mkdir(exist_ok=True)
    (directory / name).write_text(json.dumps(schema))


@pytest.fixture
def dirs(tmp_path):
    current, released = tmp_path / "current", tmp_path / "released"
    for directory in (current, released):
        write(directory, "envelope.json", {"type": "object"})
        write(directory, "thing.done.json", BASE)
    return current, released


def test_each_released_version_is_compared_with_its_current_file_by_type_and_version(dirs):
    current, released = dirs
    write(current, "thing.done.v2.json", changed(lambda s: s["required"].append("hours")))
    write(current, "other.made.json", BASE)  # a new type, a new version: no change
    assert released_breaking_changes(current=current, released=released) == []
    write(current, "thing.done.json", changed(lambda s: s["properties"].pop("hours")))
    write(current, "envelope.json", {"type": "object", "required": ["id"]})
    assert released_breaking_changes(current=current, released=released) == [
        "envelope: (root): required property 'id' added",
        "thing.done v1: (root): property 'hours' removed",
    ]


def test_removing_a_released_version_is_breaking(dirs):
    current, released = dirs
    write(released, "thing.done.v2.json", BASE)
    assert released_breaking_changes(current=current, released=released) == [
        "thing.done v2: the version was removed (thing.done.v2.json)"
    ]


def test_a_release_copies_the_files_and_refuses_over_a_breaking_change(dirs):
    current, released = dirs
    write(current, "thing.done.v2.json", BASE)
    assert schemas_release(current=current, released=released) == [
        "envelope.json",
        "thing.done.json",
        "thing.done.v2.json",
    ]
    assert json.loads((released / "thing.done.v2.json").read_text()) == BASE
    write(current, "thing.done.v2.json", changed(lambda s: s["required"].append("notes")))
    with pytest.raises(BreakingChange) as caught:
        schemas_release(current=current, released=released)
    assert caught.value.changes == ["thing.done v2: (root): required property 'notes' added"]
    assert json.loads((released / "thing.done.v2.json").read_text()) == BASE  # kept as released


def test_the_release_command_releases_the_repositorys_schemas_when_nothing_breaks(tmp_path):
    released = tmp_path / "released"
    call_command("schemas_release", released=released, stdout=io.StringIO())
    assert sorted(p.name for p in released.iterdir()) == sorted(
        p.name for p in SCHEMA_DIR.glob("*.json")
    )
    broken = json.loads((released / "envelope.json").read_text())
    broken["properties"]["extra"] = {"type": "string"}
    (released / "envelope.json").write_text(json.dumps(broken))
    with pytest.raises(CommandError, match="envelope: \\(root\\): property 'extra' removed"):
        call_command("schemas_release", released=released)
