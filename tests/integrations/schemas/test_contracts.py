"""Contract tests of the canonical dialect: every schema version has an example that fits it,
every older version is upcast, every fixture in the repository that is (or maps to) a
canonical event fits the version it names, and no released version was changed in a way
that refuses what it accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

from integrations.adapters.canonical import CanonicalAdapter
from integrations.adapters.registry import get_adapter
from integrations.schemas.compat import released_breaking_changes
from integrations.schemas.registry import (
    FIRST_VERSION,
    RELEASED_DIR,
    SCHEMA_DIR,
    file_version,
    schema_versions,
)
from integrations.schemas.upcast import UPCASTERS
from tests.support import inbound

ADAPTER = CanonicalAdapter()
VERSIONS = [found for versions in schema_versions().values() for found in versions.values()]
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "vendors"
# Fixtures that are answers of a vendor's API the tower reads, not bodies sent to it.
NOT_SENT = {"bamboohr/changed_employees.json"}


def test_every_schema_file_is_a_type_and_version_and_every_type_has_a_first_version():
    names = [path.name for path in SCHEMA_DIR.glob("*.json") if path.name != "envelope.json"]
    assert [name for name in names if file_version(name) is None] == []
    assert all(FIRST_VERSION in versions for versions in schema_versions().values())


@pytest.mark.parametrize("found", VERSIONS, ids=lambda f: f"{f.event_type}-v{f.version}")
def test_every_schema_version_has_an_example_that_fits_it(found):
    assert found.examples, f"{found.file_name} has no example"
    for example in found.examples:
        event = ADAPTER.validate_normalized(example)  # raises EventRejected otherwise
        assert (event.event_type, event.schema_version) == (found.event_type, found.version)
        assert event.normalized.get("schema_version", FIRST_VERSION) == max(
            schema_versions()[found.event_type]
        )


def test_every_older_version_has_its_upcaster_and_every_upcaster_an_older_version():
    needed = {
        (event_type, version)
        for event_type, versions in schema_versions().items()
        for version in versions
        if version < max(versions)
    }
    assert set(UPCASTERS) == needed


def test_no_released_schema_version_refuses_what_it_accepted():
    changes = released_breaking_changes()
    assert not changes, (
        "A released schema version was changed in a way that refuses events it accepted. "
        "Add a new version (<type>.v<n>.json) with an upcaster instead:\n" + "\n".join(changes)
    )


def test_every_schema_file_has_been_released():
    """A new type or version is released with the change that adds it (manage.py
    schemas_release), so that the next change to it is compared."""
    unreleased = sorted(
        path.name for path in SCHEMA_DIR.glob("*.json") if not (RELEASED_DIR / path.name).exists()
    )
    assert unreleased == [], f"Run manage.py schemas_release for {unreleased}"


def sent_fixtures() -> list[Path]:
    return [
        path
        for path in sorted(FIXTURES.glob("*/*.json"))
        if not path.name.startswith("malformed_")
        and f"{path.parent.name}/{path.name}" not in NOT_SENT
    ]


@pytest.mark.parametrize("path", sent_fixtures(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_vendor_fixture_maps_to_events_that_fit_their_schema_version(path):
    events = get_adapter(path.parent.name).parse(body=path.read_bytes())
    assert events
    for event in events:
        if event.ignored or event.fetch or event.unmapped:
            continue  # no canonical event yet: refused or completed when it runs
        versions = schema_versions()[event.event_type]
        assert event.schema_version in versions
        assert event.normalized.get("schema_version", FIRST_VERSION) == max(versions)
        ADAPTER.validate_normalized(event.normalized)


def test_the_canonical_events_the_tests_build_fit_their_schema_version():
    for event in (
        inbound.customer_event("C-1001"),
        inbound.legal_entity_event("FR01"),
        inbound.contract_event("K-5001"),
    ):
        assert ADAPTER.validate_normalized(event).schema_version == FIRST_VERSION
