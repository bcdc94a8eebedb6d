"""The mapping language on its own: paths, rules, transforms, conditions, cross-references,
and that no document and no record can make it raise anything but a named fault."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.adapters.mapping import (
    MappingInvalid,
    PathError,
    mapping_apply,
    mapping_read,
    path_parse,
    path_read,
)

ENVELOPE = {
    "customFields": {
        "textCustomFields": [
            {"name": "Agreement No.", "value": "K-1"},
            {"name": "Start", "value": "2026-11-16T00:00:00Z"},
        ],
        "listCustomFields": [{"name": "Engagement Type", "value": "Time & Materials"}],
    },
    "Amount": "1,250.5",
    "Status": "completed",
    "project": {"id": 41221045, "code": None},
}


def read(root, *fields, when=None, ref_prefix=""):
    document = {"fields": list(fields), **({"when": when} if when else {})}
    return mapping_apply(mapping_read(document), root, ref_prefix=ref_prefix)


def test_a_path_reads_keys_indexes_filters_quoted_keys_and_wildcards():
    by_name = path_parse('customFields.*[name="Agreement No."].value')
    assert path_read(ENVELOPE, by_name) == [("K-1", "customFields.textCustomFields[0].value")]
    assert path_read(ENVELOPE, path_parse("customFields.textCustomFields[1].name")) == [
        ("Start", "customFields.textCustomFields[1].name")
    ]
    assert path_read({"a.b": 1}, path_parse('["a.b"]')) == [(1, '["a.b"]')]
    assert path_read(ENVELOPE, path_parse("customFields.nothing[3]")) == []


@pytest.mark.parametrize("path", ["", "a..b", "a[", "a[=x]", "a[²]", "a[x y]", "   "])
def test_a_path_that_cannot_be_read_is_named(path):
    with pytest.raises(PathError):
        path_parse(path)


def test_rules_transform_map_values_fall_back_and_join():
    applied = read(
        ENVELOPE,
        {"field": "number", "source": 'customFields.*[name="Agreement No."].value'},
        {"field": "cap_amount", "source": "Amount", "transform": "money"},
        {
            "field": "billing_model",
            "source": "customFields.listCustomFields[0].value",
            "transform": "billing_model",
        },
        {"field": "start_date", "source": "customFields.*[name=Start].value", "transform": "date"},
        {"field": "currency", "source": "CurrencyIsoCode", "default": "USD"},
        {"field": "rate_card", "source": ["Missing", "Status"], "values": {"completed": "RC-1"}},
        {"field": "project.name", "source": ["Status", "Amount"], "join": " / "},
    )
    assert applied.errors == {}
    assert applied.data == {
        "number": "K-1",
        "cap_amount": "1250.5",
        "billing_model": "time_and_materials",
        "start_date": "2026-11-16",
        "currency": "USD",
        "rate_card": "RC-1",
        "project": {"name": "completed / 1,250.5"},
    }
    assert applied.sources["data.rate_card"] == "Status"


def test_a_value_that_does_not_convert_or_is_required_and_absent_is_an_error_by_path():
    applied = read(
        ENVELOPE,
        {"field": "number", "source": "Contract_Number__c", "required": True},
        {"field": "cap_amount", "source": "Status", "transform": "money"},
        {"field": "currency", "source": "Status", "values": {"USD": "USD"}, "strict": True},
    )
    assert set(applied.errors) == {"Contract_Number__c", "Status"}
    assert "This field is required." in applied.errors["Contract_Number__c"]
    assert "Must be an amount, e.g. 1250.00." in applied.errors["Status"]
    assert applied.data == {}


def test_a_cross_reference_names_the_record_by_the_systems_own_id():
    rule = {"field": "project", "source": ["project.code", {"ref": "project.id"}]}
    assert read(ENVELOPE, rule, ref_prefix="HARVEST-").data == {"project": "HARVEST-41221045"}
    coded = {**ENVELOPE, "project": {"id": 1, "code": "P-1051"}}
    assert read(coded, rule, ref_prefix="HARVEST-").data == {"project": "P-1051"}
    # A system that names nothing by its own ids cannot use a cross-reference.
    assert read(ENVELOPE, rule).errors == {
        "project.id": ["This system names no records by its own ids."]
    }


def test_the_when_rule_takes_a_record_or_says_why_it_is_ignored():
    mapping = mapping_read(
        {
            "when": [{"source": "Status", "in": ["completed"]}, {"source": "locked", "in": [True]}],
            "fields": [{"field": "number", "source": "id"}],
        }
    )
    assert mapping.taken(ENVELOPE)
    assert not mapping.taken({"Status": "sent", "locked": False})
    assert mapping.why_ignored({"Status": "sent", "locked": False}) == (
        'Ignored by the mapping\'s rule Status in ["completed"] or locked in [true]: '
        'Status is "sent"; locked is false.'
    )


def test_a_document_that_cannot_be_used_names_each_fault_by_its_place():
    with pytest.raises(MappingInvalid) as caught:
        mapping_read(
            {
                "fields": [
                    {"field": "number", "source": "a[", "colour": "red"},
                    {"field": "number", "source": {"ref": 5}},
                    {"field": "hours", "source": "h", "transform": "roman"},
                ],
                "extra": 1,
            },
            fields={"number": {}, "hours": {}},
        )
    assert set(caught.value.errors) == {
        "extra",
        "fields[0].colour",
        "fields[0].source",
        "fields[1].field",
        "fields[1].source",
        "fields[2].transform",
    }


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.decimals(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(document=JSON)
def test_any_document_is_read_or_refused_naming_its_faults(document):
    try:
        mapping_read(document, fields={"number": {}, "hours": {}})
    except MappingInvalid as invalid:
        assert invalid.errors and all(invalid.errors.values())


MAPPING = mapping_read(
    {
        "when": [{"source": "s", "in": ["x", 1, True]}],
        "fields": [
            {"field": "a", "source": "a", "transform": "money"},
            {"field": "b", "source": ["b[0]", "b.*[n=1].v"], "transform": "number"},
            {"field": "c", "source": "c", "transform": "date"},
            {"field": "d", "source": "d", "transform": "boolean"},
            {"field": "e", "source": ["e", "f"], "join": " "},
            {"field": "g", "source": {"ref": "g"}},
            {"field": "h", "source": "h", "transform": "billing_model", "values": {"1": "x"}},
        ],
    }
)


@settings(max_examples=300, deadline=None)
@given(root=JSON)
def test_any_record_is_mapped_with_its_faults_named_never_raising(root):
    MAPPING.taken(root)
    MAPPING.why_ignored(root)
    applied = mapping_apply(MAPPING, root, ref_prefix="SYS-")
    assert set(applied.data) <= {"a", "b", "c", "d", "e", "g", "h"}
    assert all(isinstance(messages, list) and messages for messages in applied.errors.values())
    assert not isinstance(applied.data.get("a"), Decimal)


@pytest.mark.parametrize("bad", [True, False, {"id": 1}, [1], "  "])
def test_a_cross_reference_that_is_no_single_id_is_an_error_naming_its_place(bad):
    mapping = mapping_read({"fields": [{"field": "project", "source": {"ref": "project.id"}}]})
    applied = mapping_apply(mapping, {"project": {"id": bad}}, ref_prefix="HARVEST-")
    assert applied.data == {}
    assert applied.errors == {"project.id": ["Must be the record's id, a single value."]}
