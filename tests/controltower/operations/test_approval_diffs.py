"""What a second approver compares: an edited payload's fields as the JSON was sent."""

from __future__ import annotations

from controltower.operations.selectors.approvals import payload_diff


def _rows(before, after):
    return [(row.label, row.before, row.after, row.kind) for row in payload_diff(before, after)]


def test_booleans_and_zeroes_read_as_json_spells_them():
    before = {"data": {"billable": False, "hours": 0, "notes": None}}
    after = {"data": {"billable": True, "hours": 6, "notes": "Go-live support"}}
    assert _rows(before, after) == [
        ("data.billable", "false", "true", "changed"),
        ("data.hours", "0", "6", "changed"),
        ("data.notes", "null", "Go-live support", "changed"),
    ]


def test_a_field_added_or_removed_is_blank_on_its_missing_side():
    assert _rows({"data": {"a": 1}}, {"data": {"b": False}}) == [
        ("data.b", "", "false", "added"),
        ("data.a", "1", "", "removed"),
    ]


def test_values_python_thinks_equal_but_json_does_not_are_a_change():
    assert _rows({"data": {"flag": 1, "n": "6"}}, {"data": {"flag": True, "n": 6}}) == [
        ("data.flag", "1", "true", "changed"),
        ("data.n", '"6"', "6", "changed"),
    ]
    assert _rows({"data": {"same": 0.5}}, {"data": {"same": 0.5}}) == []
