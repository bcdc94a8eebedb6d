from __future__ import annotations

import time

import pytest

from integrations.adapters.salesforce import API_VERSION, DEFAULT, SalesforceAdapter
from integrations.models import Transaction
from tests.integrations.adapters.support import (
    accepted,
    assert_duplicate,
    assert_ignored,
    assert_parked,
    assert_refused,
    assert_rejected,
    document,
    publish,
    raw,
)
from tests.support.inbound import body_of, inbound_post, signed_post

pytestmark = pytest.mark.django_db

SLUG = "salesforce"
BIG_COMMIT = 10596028384950123  # over 2**53: a float would change it


def test_a_change_event_closing_an_opportunity_won_becomes_a_signed_contract(client):
    [tx] = accepted(signed_post(client, SLUG, raw(SLUG, "cdc_closed_won.json")), 1)
    assert tx.event_type == "contract.signed"
    assert tx.flow.kind == "contract_to_project"
    assert tx.business_key == "K-2026-0042"
    assert tx.external_id == "0065g00000XyZ1qAAF"
    assert tx.idempotency_key == f"0065g00000XyZ1qAAF:{BIG_COMMIT}:1"
    assert tx.event_version == BIG_COMMIT
    data = tx.normalized["data"]
    assert data["customer"] == "C-1001"
    assert data["legal_entity"] == "US01"
    assert data["currency"] == "USD"
    assert data["billing_model"] == "time_and_materials"
    assert (data["start_date"], data["end_date"]) == ("2026-11-02", "2027-10-31")
    assert data["rate_card"] == "RC-US-STD"
    assert data["cap_amount"] == "250000.00"
    assert data["project"] == {"code": "P-1042", "name": "Acme ERP rollout"}
    assert tx.normalized["occurred_at"] == "2026-11-02T09:30:00Z"
    assert tx.payload == document(SLUG, "cdc_closed_won.json")


def test_a_streaming_api_message_is_read_as_its_change_event_and_kept_whole(client):
    first = signed_post(client, SLUG, raw(SLUG, "cometd_closed_won.json"))
    [tx] = accepted(first, 1)
    assert (tx.event_type, tx.business_key) == ("contract.signed", "K-2026-0042")
    assert tx.idempotency_key == f"0065g00000XyZ1qAAF:{BIG_COMMIT}:1"
    assert tx.event_version == BIG_COMMIT
    assert tx.normalized["data"]["project"] == {"code": "P-1042", "name": "Acme ERP rollout"}
    assert tx.payload == document(SLUG, "cometd_closed_won.json")  # replayId and channel kept
    # The same event posted bare is the same event: a duplicate.
    assert_duplicate(signed_post(client, SLUG, raw(SLUG, "cdc_closed_won.json")), first)


def test_a_fault_inside_a_streaming_api_message_is_named_by_its_path(client):
    message = document(SLUG, "cometd_closed_won.json")
    del message["data"]["payload"]["ChangeEventHeader"]["commitNumber"]
    assert_rejected(
        signed_post(client, SLUG, message),
        "data.payload.ChangeEventHeader.commitNumber",
        body_of(message),
    )


def test_a_big_commit_number_round_trips_exactly_into_the_version_and_the_key(client):
    event = document(SLUG, "cdc_closed_won.json")
    event["ChangeEventHeader"]["commitNumber"] = BIG_COMMIT + 2
    response = signed_post(client, SLUG, event)
    [tx] = accepted(response, 1)
    tx = Transaction.objects.get(pk=tx.pk)
    assert tx.event_version == BIG_COMMIT + 2
    assert tx.normalized["version"] == BIG_COMMIT + 2
    assert tx.idempotency_key.split(":")[1] == str(BIG_COMMIT + 2)
    assert tx.payload["ChangeEventHeader"]["commitNumber"] == BIG_COMMIT + 2
    assert response.json()["results"][0]["event_id"] == tx.idempotency_key


def test_a_rest_opportunity_closed_won_becomes_a_signed_contract(client):
    [tx] = accepted(signed_post(client, SLUG, raw(SLUG, "rest_closed_won.json")), 1)
    assert tx.event_type == "contract.signed"
    assert tx.business_key == "K-2026-0043"
    assert tx.idempotency_key == "0065g00000XyZ2rAAF:2026-11-02T09:30:00.250+0000"
    assert tx.event_version == 1793611800250  # SystemModstamp in epoch milliseconds
    data = tx.normalized["data"]
    assert (data["currency"], data["legal_entity"], data["billing_model"]) == (
        "GBP",
        "GB01",
        "retainer",
    )
    assert data["cap_amount"] == "120000.50"
    assert "end_date" not in data  # null in Salesforce: absent, not an error
    assert data["external_id"] == "0065g00000XyZ2rAAF"
    assert tx.payload == document(SLUG, "rest_closed_won.json")


@pytest.mark.parametrize("fixture", ["cdc_closed_won.json", "rest_closed_won.json"])
def test_the_same_delivery_again_is_a_duplicate(client, fixture):
    first = signed_post(client, SLUG, raw(SLUG, fixture))
    accepted(first, 1)
    assert_duplicate(signed_post(client, SLUG, raw(SLUG, fixture)), first)
    assert Transaction.objects.count() == 1


@pytest.mark.parametrize(
    "fixture", ["cdc_stage_changed_not_won.json", "rest_query_mixed_stages.json"]
)
def test_an_opportunity_that_is_not_closed_won_is_recorded_as_ignored(client, fixture):
    assert_ignored(signed_post(client, SLUG, raw(SLUG, fixture)), "StageName is")


def test_an_org_whose_won_stage_is_named_otherwise_says_so_in_its_mapping(client):
    """The condition is the mapping's: an org that renamed the stage publishes its own."""
    mapping = {**DEFAULT, "when": [{"source": "StageName", "in": ["Negotiation/Review"]}]}
    publish(SLUG, "contract", mapping)
    [tx] = accepted(signed_post(client, SLUG, raw(SLUG, "cdc_stage_changed_not_won.json")), 1)
    assert tx.state == "received" and tx.mapping_version == 1


def test_an_update_touching_neither_the_stage_nor_the_terms_is_recorded_as_ignored(client):
    event = document(SLUG, "cdc_closed_won.json")
    event["ChangeEventHeader"]["changedFields"] = ["Description", "LastModifiedDate"]
    assert_ignored(signed_post(client, SLUG, event), "An update of Description, LastModifiedDate")


@pytest.mark.parametrize("change_type", ["DELETE", "GAP_UPDATE", "GAP_OVERFLOW"])
def test_delete_and_gap_change_events_are_recorded_as_ignored(client, change_type):
    event = document(SLUG, "cdc_closed_won.json")
    event["ChangeEventHeader"]["changeType"] = change_type
    assert_ignored(signed_post(client, SLUG, event), f"A {change_type} change event")


def test_a_change_event_for_several_records_yields_one_event_per_record(client):
    event = document(SLUG, "cdc_closed_won.json")
    event["ChangeEventHeader"]["changeType"] = "CREATE"
    event["ChangeEventHeader"]["recordIds"] = ["0065g00000XyZ1qAAF", "0065g00000XyZ9zAAF"]
    transactions = accepted(signed_post(client, SLUG, event), 2)
    assert [tx.external_id for tx in transactions] == ["0065g00000XyZ1qAAF", "0065g00000XyZ9zAAF"]
    assert {tx.event_version for tx in transactions} == {BIG_COMMIT}


def test_money_never_goes_through_a_float(client):
    body = raw(SLUG, "rest_closed_won.json").replace(
        b'"Cap_Amount__c": 120000.50', b'"Cap_Amount__c": 99999999999999.99'
    )
    [tx] = accepted(signed_post(client, SLUG, body), 1)
    assert tx.normalized["data"]["cap_amount"] == "99999999999999.99"
    # float(99999999999999.99) is ...98: the stored payload keeps the exact digits as text
    assert tx.payload["Cap_Amount__c"] == "99999999999999.99"


def test_a_payload_that_breaks_the_salesforce_envelope_is_refused_naming_the_field(client):
    body = raw(SLUG, "malformed_commit_timestamp.json")
    errors = assert_rejected(
        signed_post(client, SLUG, body), "ChangeEventHeader.commitTimestamp", body
    )
    assert list(errors) == ["ChangeEventHeader.commitTimestamp"]


@pytest.mark.parametrize(
    ("fixture", "path"),
    [
        ("malformed_missing_contract_number.json", "Contract_Number__c"),
        ("malformed_cap_amount.json", "Cap_Amount__c"),
        ("malformed_batch_legal_entity.json", "[1].Legal_Entity__c"),
    ],
)
def test_an_opportunity_lacking_a_business_value_is_accepted_and_parked_naming_the_field(
    client, fixture, path
):
    assert_parked(signed_post(client, SLUG, raw(SLUG, fixture)), path)


def test_a_change_event_for_another_object_is_refused(client):
    event = document(SLUG, "cdc_closed_won.json")
    event["ChangeEventHeader"]["entityName"] = "Account"
    assert_rejected(
        signed_post(client, SLUG, event), "ChangeEventHeader.entityName", body_of(event)
    )


def test_a_commit_number_beyond_a_64_bit_version_is_refused(client):
    event = document(SLUG, "cdc_closed_won.json")
    event["ChangeEventHeader"]["commitNumber"] = 2**63
    assert_rejected(
        signed_post(client, SLUG, event), "ChangeEventHeader.commitNumber", body_of(event)
    )


def test_a_body_that_is_neither_shape_is_refused_at_the_root(client):
    body = b'{"Id": "0065g00000XyZ2rAAF", "StageName": "Closed Won"}'
    assert_rejected(signed_post(client, SLUG, body), "(root)", body)


@pytest.mark.parametrize(
    ("signing", "reason"),
    [
        ({"HTTP_X_CT_SIGNATURE": ""}, "missing"),
        ({"HTTP_X_CT_SIGNATURE": "sha256=abc"}, "malformed"),
        ({"age": 600}, "expired"),
        ({"secret": "not-the-secret"}, "mismatch"),
    ],
)
def test_a_bad_signature_is_refused_with_the_reason(client, signing, reason):
    body = raw(SLUG, "cdc_closed_won.json")
    if "HTTP_X_CT_SIGNATURE" in signing:
        response = inbound_post(client, SLUG, body, **signing)
    elif "age" in signing:  # a signature made that many seconds ago (negative: ahead)
        response = signed_post(client, SLUG, body, timestamp=int(time.time()) - signing["age"])
    else:
        response = signed_post(client, SLUG, body, **signing)
    assert_refused(response, reason)


# --- thin change events: the record is read over REST when the event runs ----------------

THIN_ID = "0065g00000XyZ3sAAF"


def test_a_stage_change_carrying_only_the_changed_fields_waits_to_read_its_record(client):
    response = signed_post(client, SLUG, raw(SLUG, "cdc_update_stage_only.json"))
    [tx] = accepted(response, 1)
    [row] = response.json()["results"]
    assert THIN_ID in row["fetch"] and "unmapped" not in row and "ignored" not in row
    assert (tx.fetch, tx.state, tx.errors) == (THIN_ID, "received", None)
    # The change event's own key and version, whatever the record read later holds.
    assert tx.idempotency_key == f"{THIN_ID}:10596028384960456:1"
    assert tx.event_version == 10596028384960456
    assert tx.normalized["data"] == {"external_id": THIN_ID, "signed_at": "2026-11-03T09:30:00Z"}
    assert tx.payload == document(SLUG, "cdc_update_stage_only.json")


def test_an_event_carrying_every_value_the_mapping_reads_is_mapped_without_a_read(client):
    [tx] = accepted(signed_post(client, SLUG, raw(SLUG, "cometd_closed_won.json")), 1)
    assert tx.fetch == "" and tx.business_key == "K-2026-0042"


def test_an_update_of_a_term_alone_reads_the_record_to_know_its_stage(client):
    event = document(SLUG, "cdc_update_stage_only.json")
    del event["StageName"]
    event["ChangeEventHeader"]["changedFields"] = ["Cap_Amount__c", "LastModifiedDate"]
    event["Cap_Amount__c"] = 190000
    [tx] = accepted(signed_post(client, SLUG, event), 1)
    assert tx.fetch == THIN_ID


def test_a_field_the_event_says_was_emptied_is_a_value_not_a_gap(client):
    event = document(SLUG, "cdc_closed_won.json")
    del event["Cap_Amount__c"]
    event["ChangeEventHeader"]["nulledFields"] = ["Cap_Amount__c"]
    [tx] = accepted(signed_post(client, SLUG, event), 1)
    assert tx.fetch == "" and "cap_amount" not in tx.normalized["data"]
    del event["ChangeEventHeader"]["nulledFields"][0]
    event["ChangeEventHeader"]["commitNumber"] += 1
    [thin] = accepted(signed_post(client, SLUG, event), 1)
    assert thin.fetch == "0065g00000XyZ1qAAF"


def test_a_created_event_naming_several_records_reads_each_record_by_its_own_id(client):
    event = document(SLUG, "cdc_update_stage_only.json")
    event["ChangeEventHeader"].update(
        changeType="CREATE", recordIds=[THIN_ID, "0065g00000XyZ9zAAF"]
    )
    transactions = accepted(signed_post(client, SLUG, event), 2)
    assert [tx.fetch for tx in transactions] == [THIN_ID, "0065g00000XyZ9zAAF"]


def test_the_record_read_fills_what_the_event_lacks_and_the_event_keeps_its_own_values():
    adapter = SalesforceAdapter()
    assert adapter.fetch_request(THIN_ID).path == (
        f"/services/data/v{API_VERSION}/sobjects/Opportunity/{THIN_ID}"
    )
    record = document(SLUG, "sobject_opportunity_closed_won.json")
    record["LastModifiedDate"] = "2026-11-04T10:00:00.000+0000"  # edited again since
    event = document(SLUG, "cdc_update_stage_only.json")
    merged = adapter.fetch_merge(event, record)
    assert merged["ChangeEventHeader"] == event["ChangeEventHeader"]
    assert merged["LastModifiedDate"] == "2026-11-03T09:30:00.000Z"  # the event's own
    assert (merged["Id"], merged["Contract_Number__c"]) == (THIN_ID, "K-2026-0050")
    mapped = adapter.remap(payload=merged, key=f"{THIN_ID}:10596028384960456:1")
    assert mapped.fetch == "" and mapped.business_key == "K-2026-0050"
    assert mapped.version == 10596028384960456
    # Inside a Streaming API message, the event in data.payload gets the record.
    message = document(SLUG, "cometd_closed_won.json")
    message["data"]["payload"] = event
    wrapped = adapter.fetch_merge(message, record)
    assert wrapped["data"]["event"] == {"replayId": 1942}
    assert wrapped["data"]["payload"] == merged


def test_a_field_the_mapping_only_defaults_is_never_a_value_to_read(client):
    fields = [f for f in DEFAULT["fields"] if f["field"] != "currency"]
    publish(
        SLUG, "contract", {**DEFAULT, "fields": [*fields, {"field": "currency", "default": "USD"}]}
    )
    [tx] = accepted(signed_post(client, SLUG, raw(SLUG, "cdc_closed_won.json")), 1)
    assert tx.fetch == "" and tx.normalized["data"]["currency"] == "USD"
