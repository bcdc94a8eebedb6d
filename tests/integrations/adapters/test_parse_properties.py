"""Whatever a body holds, a vendor adapter yields events or refuses it naming fields."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.adapters import EventRejected, get_adapter
from integrations.adapters.vendor import MAX_VERSION
from tests.integrations.adapters.support import FIXTURES

VENDORS = ["salesforce", "docusign", "harvest", "bamboohr", "workday"]
GOOD = {
    vendor: [
        json.loads(path.read_bytes())
        for path in sorted((FIXTURES / vendor).glob("*.json"))
        if not path.name.startswith("malformed")
    ]
    for vendor in VENDORS
}
# Keys and values the adapters look for, so that random bodies get past the first checks.
KEYS = sorted(
    {
        "ChangeEventHeader",
        "attributes",
        "type",
        "Id",
        "StageName",
        "SystemModstamp",
        "records",
        "recordIds",
        "changeType",
        "commitNumber",
        "commitTimestamp",
        "sequenceNumber",
        "entityName",
        "changedFields",
        "Contract_Number__c",
        "Cap_Amount__c",
        "event",
        "data",
        "envelopeId",
        "envelopeSummary",
        "status",
        "statusChangedDateTime",
        "customFields",
        "textCustomFields",
        "name",
        "value",
        "time_entries",
        "id",
        "updated_at",
        "is_locked",
        "is_closed",
        "user",
        "project",
        "code",
        "hours",
        "employees",
        "timestamp",
        "action",
        "fields",
        "Employee #",
        "Report_Entry",
        "Employee_ID",
        "Last_Updated",
        "Active_Status",
        "Company",
    }
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.decimals(allow_nan=False, allow_infinity=False).map(float),
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            "Closed Won",
            "Opportunity",
            "UPDATE",
            "CREATE",
            "envelope-completed",
            "completed",
            "2026-11-02T09:30:00Z",
            "2026-11-02T09:30:00.0000000Z",
            "2026-11-02",
            "0001-01-01T00:00:00+14:00",
            "US01",
            "Active",
            "1",
            "Updated",
            "Deleted",
        ]
    ),
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=6),
    max_leaves=15,
)


def _places(value: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) in a JSON document."""
    places: list[tuple[Any, Any]] = []
    stack = [value]
    while stack:
        node = stack.pop()
        keys = node.keys() if isinstance(node, dict) else range(len(node))
        for key in keys:
            places.append((node, key))
            if isinstance(node[key], dict | list) and node[key]:
                stack.append(node[key])
    return places


@st.composite
def mutations(draw: st.DrawFn, vendor: str) -> Any:
    """A good fixture with keys removed or values replaced by anything, wrong types included."""
    document = copy.deepcopy(draw(st.sampled_from(GOOD[vendor])))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        places = _places(document)
        if not places:
            break
        container, key = draw(st.sampled_from(places))
        if isinstance(container, dict) and draw(st.booleans()):
            del container[key]
        else:
            container[key] = draw(JSON)
    return document


def _check(vendor: str, body: bytes) -> None:
    try:
        events = get_adapter(vendor).parse(body=body)
    except EventRejected as exc:
        assert exc.message
        assert exc.errors
        assert all(isinstance(path, str) and path for path in exc.errors)
        assert all(messages for messages in exc.errors.values())
        return
    for event in events:
        # What is stored must be plain JSON, and the version fit its 64-bit column.
        json.dumps(event.payload, allow_nan=False)
        json.dumps(event.normalized, allow_nan=False)
        assert event.version is None or 1 <= event.version <= MAX_VERSION
        assert event.idempotency_key and event.business_key


PROPERTIES = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.parametrize("vendor", VENDORS)
@PROPERTIES
@given(body=st.one_of(JSON.map(lambda value: json.dumps(value).encode()), st.binary(max_size=40)))
def test_a_random_body_yields_events_or_is_refused_never_anything_else(vendor, body):
    _check(vendor, body)


@pytest.mark.parametrize("vendor", VENDORS)
@PROPERTIES
@given(data=st.data())
def test_a_mangled_good_payload_yields_events_or_is_refused_never_anything_else(vendor, data):
    document = data.draw(mutations(vendor))
    _check(vendor, json.dumps(document).encode())


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize(
    "body",
    [
        b"[" * 5000 + b"]" * 5000,  # deeper than the JSON parser recurses
        b'{"a":' * 40 + b"1" + b"}" * 40,  # deeper than a vendor record can be
        b'{"employees": [{"id": "\\ud800"}], "Report_Entry": [], "x": "\\u0000"}',
        b'{"hours": NaN}',
        b'{"id": 1' + b"0" * 5000 + b"}",  # over Python's integer digit limit
        '{"name": "caf\u00e9"}'.encode("latin-1"),
    ],
)
def test_bodies_that_cannot_be_stored_are_refused_at_the_door(vendor, body):
    with pytest.raises(EventRejected) as caught:
        get_adapter(vendor).parse(body=body)
    assert "(body)" in caught.value.errors
