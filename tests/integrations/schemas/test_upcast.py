"""Upcasters, one test each, and where they are applied: when an event is read."""

from __future__ import annotations

import copy

import pytest

from integrations.adapters.base import EventRejected
from integrations.adapters.canonical import CanonicalAdapter
from integrations.schemas.registry import schema_versions
from integrations.schemas.upcast import event_upcast, time_entry_approved_v1

V1 = copy.deepcopy(schema_versions()["time_entry.approved"][1].examples[0])


def v1_entry(hours) -> dict:
    return {**V1, "data": {**V1["data"], "hours": hours}}


@pytest.mark.parametrize(
    ("hours", "expected"),
    [(7.5, "7.50"), (8, "8.00"), (0.25, "0.25"), (7.125, "7.12"), (7.135, "7.14"), (24, "24.00")],
)
def test_a_v1_time_entry_carries_its_hours_as_a_two_place_decimal_string_in_v2(hours, expected):
    assert time_entry_approved_v1(v1_entry(hours))["data"]["hours"] == expected


def test_upcasting_returns_a_new_event_naming_its_version_and_leaves_the_one_received():
    received = v1_entry(7.5)
    upcast = event_upcast(event=received, event_type="time_entry.approved", version=1, current=2)
    assert received == v1_entry(7.5)
    assert upcast == {
        **received,
        "schema_version": 2,
        "data": {**received["data"], "hours": "7.50"},
    }
    assert event_upcast(event=upcast, event_type="time_entry.approved", version=2, current=2) is (
        upcast
    )


def test_a_version_without_an_upcaster_is_named():
    with pytest.raises(LookupError, match=r"customer\.upserted v1 has no upcaster to v2"):
        event_upcast(event={"data": {}}, event_type="customer.upserted", version=1, current=2)


def test_the_adapter_reads_v1_and_v2_alike_and_keeps_the_version_each_arrived_in():
    adapter = CanonicalAdapter()
    old = adapter.validate_normalized(v1_entry(7.5))
    new = adapter.validate_normalized({**v1_entry("7.50"), "schema_version": 2})
    assert (old.schema_version, new.schema_version) == (1, 2)
    assert old.normalized == new.normalized
    assert old.payload["data"]["hours"] == 7.5 and "schema_version" not in old.payload


@pytest.mark.parametrize(
    ("event", "path", "message"),
    [
        ({**V1, "schema_version": 2}, "data.hours", "is not of type 'string'"),
        ({**V1, "schema_version": 3}, "schema_version", "schema versions 1, 2; not 3"),
        ({**V1, "schema_version": "2"}, "schema_version", "is not of type 'integer'"),
        ({**V1, "schema_version": True}, "schema_version", "is not of type 'integer'"),
        ({**v1_entry(0.001)}, "data.hours", "After upcasting"),
    ],
    ids=[
        "v2 with v1 hours",
        "unknown version",
        "version as text",
        "version as bool",
        "rounds to 0",
    ],
)
def test_an_event_that_fits_no_version_is_refused_naming_the_field(event, path, message):
    with pytest.raises(EventRejected) as caught:
        CanonicalAdapter().validate_normalized(event)
    assert message in " ".join(caught.value.errors[path])
