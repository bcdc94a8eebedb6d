"""Salesforce Opportunities: a Change Data Capture event, or a REST record, closed won.

Two shapes are read, one object or a JSON array of them (a REST query response
``{"totalSize": ..., "records": [...]}`` too):

- a Change Data Capture event of ``/data/OpportunityChangeEvent``: the
  ``ChangeEventHeader`` (``entityName``, ``changeType``, ``recordIds``, ``commitNumber``,
  ``sequenceNumber``, ``commitTimestamp`` in epoch milliseconds, ``changedFields``,
  ``nulledFields``, ...) with the record's fields at the top level. Salesforce delivers
  CDC over CometD or the Pub/Sub API, not as webhooks, so a forwarder subscribes and posts
  each event's payload here, or the Streaming API message as it came (``{"channel": ...,
  "data": {"schema": ..., "payload": <the event>, "event": {"replayId": ...}}}``), which
  is kept whole as the transaction's payload.
- a REST Opportunity record (``attributes.type == "Opportunity"``, ``Id``,
  ``StageName``, ``SystemModstamp`` such as ``2026-11-02T09:30:00.000+0000``), as
  returned by ``/sobjects/Opportunity/<Id>`` or a SOQL query.

Both are signed by the forwarder with the tower's own ``X-CT-Signature``.

A record becomes ``contract.signed`` when the mapping's condition holds (by default
``StageName`` is ``Closed Won``; orgs that renamed the stage say theirs); any other
record is recorded as ignored, as are DELETE and GAP_* change events (a gap event
carries no field values: the forwarder re-reads the record over REST and posts that),
and an UPDATE whose ``changedFields`` touch none of the fields the mapping reads.

Thin change events. An UPDATE event holds only the fields that changed (over the Pub/Sub
API the others are there but empty), unless the channel *enriches* Opportunity events
(``EnrichedFields`` on the ``PlatformEventChannelMember``); a CREATE or UNDELETE leaves
out empty fields, and no change event carries a formula field. A CREATE, UPDATE or
UNDELETE event that lacks a value the mapping reads (the source of its condition while
the condition does not hold on what the event carries, or every source of a field; a
field named in ``nulledFields`` counts as given, empty) is a *thin* event: it is
accepted with ``fetch`` set to the record id, and when it runs the tower reads the
record with the system's credentials, ``GET <base URL>/services/data/v61.0/sobjects/
Opportunity/<Id>`` (sObject Rows; ``API_VERSION``), the base URL being the org's
instance (``https://<My Domain>.my.salesforce.com``) and the credentials OAuth 2.0 client
credentials from ``<base URL>/services/oauth2/token`` (a connected app with the client
credentials flow enabled and a run-as user allowed to read Opportunities). The record
read is merged into the event (``fetch_merge``): the event's own values stay, its
``ChangeEventHeader`` with them (so the key, the version and the audit stay the change
event's), and the record fills what the event lacks and adds its ``attributes`` and
``Id``, which mark the event as read. An event naming several records is one transaction
per record, each reading its own. An event whose stage says it is not Closed Won is
ignored without a call, as is an UPDATE touching no mapped field; an event that carries
every value (an enriched channel) is mapped as it came, without a call; a record that is
gone (404) leaves the event ignored. **Test connection** reads ``<base URL>/services/
data/v61.0/`` ("Resources by Version": it needs the token and reads no record).

The envelope gives the record id (``external_id``) and the commit time or
SystemModstamp (``signed_at``, ``occurred_at``). The contract's terms live in the
org's own custom fields, which the mapping names; ``DEFAULT`` reads
``Contract_Number__c`` (the business key), ``Customer_Number__c`` (a formula of
``Account.AccountNumber``) or, where the org has no such field (and in a change event,
which carries no formula field), ``AccountId`` as a cross-reference
(``SALESFORCE-<AccountId>``: the customer whose Salesforce sync state holds the id, linked
by a person or found by the account's ``AccountNumber``, the mapping's ``match``),
``Legal_Entity__c`` (a company code such as ``US01``),
``CurrencyIsoCode``, ``Billing_Model__c`` (picklist: Time & Materials, Fixed Fee,
Retainer, Milestone, Managed Services), ``Start_Date__c``, ``End_Date__c``,
``Rate_Card__c``, ``Cap_Amount__c`` (currency), ``Project_Code__c`` and ``Name`` (the
project name). An org that sells retainers or managed services adds its fee, included
hours and roll-over fields (``monthly_fee``, ``included_hours``,
``unused_hours_roll_over``) to its own mapping: in the default, fields most contracts
leave empty would make every change event thin, one read of the record each
(developer.salesforce.com, "Change Data Capture Developer Guide: Change Event Message
Structure" and "Change Event Body Fields", and the REST API Developer Guide's "sObject
Rows" resource).

Idempotency key and version: for CDC ``<recordId>:<commitNumber>:<sequenceNumber>``
(one event per id in ``recordIds``) with ``commitNumber`` as the version (kept exact: it
is larger than a float holds); for REST ``<Id>:<SystemModstamp>`` with SystemModstamp
in epoch milliseconds as the version. A system should send one of the two shapes: the
two version scales are not comparable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from integrations.adapters.base import EventRejected
from integrations.adapters.vendor import (
    FetchRequest,
    Record,
    VendorAdapter,
    VendorRecord,
    ignored_record,
    iso,
    join,
    present,
    require_object,
    root,
    version_of,
)

if TYPE_CHECKING:
    from datetime import datetime

OPPORTUNITY = "Opportunity"
# The REST API version the tower reads records with (Summer '24): one version, so that a
# record read looks the same whichever event asked for it.
API_VERSION = "61.0"
REF_PREFIX = "SALESFORCE-"
DATA_CHANGES = {"CREATE", "UPDATE", "UNDELETE"}
SKIPPED_CHANGES = {"DELETE"}
REQUIRED_IDS = "Must be a non-empty array of record ids."

DEFAULT = {
    "when": [{"source": "StageName", "in": ["Closed Won"]}],
    "fields": [
        {"field": "number", "source": "Contract_Number__c", "required": True},
        {"field": "customer", "source": ["Customer_Number__c", {"ref": "AccountId"}]},
        {"field": "legal_entity", "source": "Legal_Entity__c"},
        {"field": "currency", "source": "CurrencyIsoCode"},
        {"field": "billing_model", "source": "Billing_Model__c", "transform": "billing_model"},
        {"field": "start_date", "source": "Start_Date__c"},
        {"field": "end_date", "source": "End_Date__c"},
        {"field": "rate_card", "source": "Rate_Card__c"},
        {"field": "cap_amount", "source": "Cap_Amount__c", "transform": "money"},
        {"field": "project.code", "source": "Project_Code__c"},
        {"field": "project.name", "source": "Name"},
    ],
    # An account nobody linked yet is found by its AccountNumber, the customer number
    # ("sObject Rows": GET /services/data/vXX.X/sobjects/Account/{id}).
    "match": {
        "customer": {
            "read": f"/services/data/v{API_VERSION}/sobjects/Account/{{id}}",
            "source": "AccountNumber",
            "field": "number",
        }
    },
}


class SalesforceAdapter(VendorAdapter):
    name = "salesforce"
    list_key = "records"
    defaults = {"contract": DEFAULT}
    probe_path = f"/services/data/v{API_VERSION}/"  # "Resources by Version": no record read
    # An opportunity names its account by Salesforce's id (``AccountId``): a customer's
    # Salesforce id is its sync state in Salesforce.
    ref_prefix = REF_PREFIX
    ref_kinds = ("customer",)

    def read(self, record: Record) -> list[VendorRecord]:
        fields = require_object(record)
        data = fields.get("data")
        if isinstance(data, dict) and isinstance(data.get("payload"), dict):
            # A Streaming API (CometD) message: the change event sits in data.payload.
            inner = Record(data["payload"], join(record.prefix, "data.payload"))
            return self._read_change_event(inner, data["payload"], message=fields)
        if "ChangeEventHeader" in fields:
            return self._read_change_event(record, fields)
        if "attributes" in fields:
            return self._read_rest_record(record, fields)
        raise EventRejected(
            "Neither a Change Data Capture event nor a REST Opportunity record.",
            errors={
                root(record.prefix): [
                    "Expected a ChangeEventHeader (Change Data Capture) or attributes.type "
                    "(REST record)."
                ]
            },
        )

    def _read_change_event(
        self, record: Record, fields: dict[str, Any], message: dict[str, Any] | None = None
    ) -> list[VendorRecord]:
        """``message``: the CometD message around the event, kept as the payload."""
        header = record.object(fields, "ChangeEventHeader", "ChangeEventHeader")
        if header is None:
            record.check()
            return []
        at = "ChangeEventHeader."
        entity = record.text(header, "entityName", at + "entityName")
        if entity is not None and entity != OPPORTUNITY:
            record.error(
                at + "entityName", f"Must be {OPPORTUNITY!r}; this adapter reads Opportunities."
            )
        change = record.text(header, "changeType", at + "changeType")
        if change is not None and change not in DATA_CHANGES | SKIPPED_CHANGES:
            if not change.startswith("GAP_"):
                record.error(
                    at + "changeType",
                    "Must be CREATE, UPDATE, DELETE, UNDELETE or a GAP_ change type.",
                )
        record_ids = self._record_ids(record, header)
        commit_number = record.integer(header, "commitNumber", at + "commitNumber", minimum=1)
        sequence = record.integer(header, "sequenceNumber", at + "sequenceNumber")
        committed_at = record.epoch_millis(header, "commitTimestamp", at + "commitTimestamp")
        changed = self._field_names(record, header, "changedFields")
        nulled = self._field_names(record, header, "nulledFields")
        record.check()
        if commit_number is None or sequence is None or committed_at is None:
            return []  # unreachable: check() refused the record
        found = []
        for index, record_id in enumerate(record_ids):
            key = f"{record_id}:{commit_number}:{sequence}"
            if change not in DATA_CHANGES:
                found.append(
                    ignored_record(
                        record,
                        record_type="contract",
                        reason=f"A {change} change event: it carries no contract to sign.",
                        parts=[record_id, commit_number, sequence],
                        moment=iso(committed_at),
                        external_id=record_id,
                    )
                )
                continue
            found.append(
                VendorRecord(
                    record_type="contract",
                    record=record,
                    key=key,
                    occurred_at=committed_at,
                    version=commit_number,
                    external_id=record_id,
                    payload=message or fields,
                    root=fields,
                    fixed={"external_id": record_id, "signed_at": iso(committed_at)},
                    fixed_sources={
                        "data.external_id": f"{at}recordIds[{index}]",
                        "data.signed_at": at + "commitTimestamp",
                    },
                    changed=changed if change == "UPDATE" else None,
                    fetch_lacking="" if _holds_record(fields, record_id) else record_id,
                    nulled=frozenset(nulled or ()),
                )
            )
        return found

    def _field_names(
        self, record: Record, header: Mapping[str, Any], name: str
    ) -> list[str] | None:
        names = header.get(name)
        if names is not None and not (
            isinstance(names, list) and all(isinstance(item, str) for item in names)
        ):
            record.error(f"ChangeEventHeader.{name}", "Must be an array of field names.")
            return None
        return names

    def _record_ids(self, record: Record, header: Mapping[str, Any]) -> list[str]:
        relative = "ChangeEventHeader.recordIds"
        ids = header.get("recordIds")
        if not isinstance(ids, list) or not ids:
            record.error(relative, REQUIRED_IDS)
            return []
        for index, value in enumerate(ids):
            if not isinstance(value, str) or not value:
                record.error(f"{relative}[{index}]", "Must be a record id.")
            elif "*" in value:
                record.error(
                    f"{relative}[{index}]",
                    "A wildcard record id cannot be mapped; re-read the records over REST.",
                )
        return [value for value in ids if isinstance(value, str)]

    def _read_rest_record(self, record: Record, fields: dict[str, Any]) -> list[VendorRecord]:
        attributes = record.object(fields, "attributes", "attributes")
        if attributes is not None:
            kind = record.text(attributes, "type", "attributes.type")
            if kind is not None and kind != OPPORTUNITY:
                record.error(
                    "attributes.type", f"Must be {OPPORTUNITY!r}; this adapter reads Opportunities."
                )
        record_id = record.text(fields, "Id", "Id")
        modified_at: datetime | None = record.timestamp(fields, "SystemModstamp", "SystemModstamp")
        record.check()
        if record_id is None or modified_at is None:
            return []  # unreachable: check() refused the record
        return [
            VendorRecord(
                record_type="contract",
                record=record,
                key=f"{record_id}:{fields['SystemModstamp']}",
                occurred_at=modified_at,
                version=version_of(modified_at),
                external_id=record_id,
                payload=fields,
                fixed={"external_id": record_id, "signed_at": iso(modified_at)},
                fixed_sources={"data.external_id": "Id", "data.signed_at": "SystemModstamp"},
            )
        ]

    # --- thin change events ---------------------------------------------------------------

    def fetch_request(self, record_id: str) -> FetchRequest:
        return FetchRequest(
            path=f"/services/data/v{API_VERSION}/sobjects/{OPPORTUNITY}/{quote(record_id, safe='')}"
        )

    def fetch_merge(self, payload: Any, fetched: Any) -> Any:
        """The change event (inside the Streaming API message, if it came in one) with the
        record read over REST filling what it lacks."""
        data = payload.get("data") if isinstance(payload, dict) else None
        if isinstance(data, dict) and isinstance(data.get("payload"), dict):
            return {**payload, "data": {**data, "payload": _merged(data["payload"], fetched)}}
        return _merged(payload, fetched)


def _holds_record(event: Mapping[str, Any], record_id: str) -> bool:
    """Whether the change event already holds its record as read over REST (``fetch_merge``)."""
    attributes = event.get("attributes")
    return (
        isinstance(attributes, dict)
        and attributes.get("type") == OPPORTUNITY
        and event.get("Id") == record_id
    )


def _merged(event: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """The event's header and own values first (a nulled field stays empty), then the
    record's values for everything the event does not give."""
    header = event.get("ChangeEventHeader")
    nulled = set(header.get("nulledFields") or []) if isinstance(header, dict) else set()
    own = {
        key: value
        for key, value in event.items()
        if key == "ChangeEventHeader" or present(value) or key in nulled
    }
    rest = {key: value for key, value in record.items() if key not in own}
    return {"ChangeEventHeader": header, **rest, **own}
