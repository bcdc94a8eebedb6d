"""Salesforce Opportunities: a Change Data Capture event, or a REST record, closed won.

Two shapes are read, one object or a JSON array of them (a REST query response
``{"totalSize": ..., "records": [...]}`` too):

- a Change Data Capture event of ``/data/OpportunityChangeEvent``: the
  ``ChangeEventHeader`` (``entityName``, ``changeType``, ``recordIds``, ``commitNumber``,
  ``sequenceNumber``, ``commitTimestamp`` in epoch milliseconds, ``changedFields``, ...)
  with the record's fields at the top level. Salesforce delivers CDC over CometD or the
  Pub/Sub API, not as webhooks, so a forwarder subscribes and posts each event's
  payload here, or the Streaming API message as it came (``{"channel": ..., "data":
  {"schema": ..., "payload": <the event>, "event": {"replayId": ...}}}``), which is kept
  whole as the transaction's payload. An UPDATE event holds only the fields that
  changed: the channel must *enrich* Opportunity events with the contract fields below
  (``EnrichedFields`` on the ``PlatformEventChannelMember``) so that a stage change to
  Closed Won carries them.
- a REST Opportunity record (``attributes.type == "Opportunity"``, ``Id``,
  ``StageName``, ``SystemModstamp`` such as ``2026-11-02T09:30:00.000+0000``), as
  returned by ``/sobjects/Opportunity/<Id>`` or a SOQL query.

Both are signed by the forwarder with the tower's own ``X-CT-Signature``.

``StageName == "Closed Won"`` becomes ``contract.signed``; any other stage is skipped,
as are DELETE and GAP_* change events (a gap event carries no field values: the
forwarder re-reads the record over REST and posts that), and an UPDATE whose
``changedFields`` touch neither the stage nor a contract field.

Contract terms live in custom fields on the Opportunity:

============================  ===========================  ==================================
Salesforce field              canonical ``data`` field     note
============================  ===========================  ==================================
``Contract_Number__c``        ``number``                   business key
``Customer_Number__c``        ``customer``                 formula: ``Account.AccountNumber``
``Legal_Entity__c``           ``legal_entity``             company code, e.g. ``US01``
``CurrencyIsoCode``           ``currency``                 multi-currency orgs
``Billing_Model__c``          ``billing_model``            picklist: Time & Materials,
                                                           Fixed Fee, Retainer, Milestone
``Start_Date__c``             ``start_date``               date
``End_Date__c``               ``end_date``                 date, optional
``Rate_Card__c``              ``rate_card``                rate card code, optional
``Cap_Amount__c``             ``cap_amount``               currency, optional; a decimal string
``Project_Code__c``           ``project.code``
``Name``                      ``project.name``             the Opportunity name
record id / ``Id``            ``external_id``
commit time / SystemModstamp  ``signed_at``, ``occurred_at``
============================  ===========================  ==================================

Idempotency key and version: for CDC ``<recordId>:<commitNumber>:<sequenceNumber>``
(one event per id in ``recordIds``) with ``commitNumber`` as the version (kept exact: it
is larger than a float holds); for REST ``<Id>:<SystemModstamp>`` with SystemModstamp
in epoch milliseconds as the version. A system should send one of the two shapes: the
two version scales are not comparable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from integrations.adapters.base import EventRejected, InboundEvent
from integrations.adapters.jsonbody import load
from integrations.adapters.vendor import (
    CANONICAL,
    Record,
    billing_model,
    canonical_event,
    iso,
    join,
    listed,
    money,
    present,
    read_records,
    require_object,
    root,
    version_of,
)

if TYPE_CHECKING:
    from datetime import datetime

    from integrations.models import ConnectedSystem

OPPORTUNITY = "Opportunity"
CLOSED_WON = "Closed Won"
DATA_CHANGES = {"CREATE", "UPDATE", "UNDELETE"}
SKIPPED_CHANGES = {"DELETE"}
REQUIRED_IDS = "Must be a non-empty array of record ids."

# canonical data path -> Salesforce field, with the function that converts the value.
FIELDS: dict[str, tuple[str, Any]] = {
    "data.number": ("Contract_Number__c", None),
    "data.customer": ("Customer_Number__c", None),
    "data.legal_entity": ("Legal_Entity__c", None),
    "data.currency": ("CurrencyIsoCode", None),
    "data.billing_model": ("Billing_Model__c", billing_model),
    "data.start_date": ("Start_Date__c", None),
    "data.end_date": ("End_Date__c", None),
    "data.rate_card": ("Rate_Card__c", None),
    "data.cap_amount": ("Cap_Amount__c", money),
    "data.project.code": ("Project_Code__c", None),
    "data.project.name": ("Name", None),
}
CONTRACT_FIELDS = {"StageName"} | {field for field, _ in FIELDS.values()}


def contract_data(fields: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The canonical ``data`` of a closed-won Opportunity, and where each field came from."""
    data: dict[str, Any] = {"project": {}}
    sources: dict[str, str] = {}
    for canonical_path, (field, convert) in FIELDS.items():
        sources[canonical_path] = field
        value = fields.get(field)
        if not present(value):
            continue
        target = data["project"] if canonical_path.startswith("data.project.") else data
        target[canonical_path.rsplit(".", 1)[1]] = convert(value) if convert else value
    sources["data.project"] = "Project_Code__c"
    return data, sources


class SalesforceAdapter:
    name = "salesforce"

    def verify(self, *, system: ConnectedSystem, headers: Mapping[str, str], body: bytes) -> None:
        CANONICAL.verify(system=system, headers=headers, body=body)

    def parse(self, *, body: bytes) -> list[InboundEvent]:
        return read_records(listed(load(body), "records"), self._read)

    def validate_normalized(self, normalized: Any) -> InboundEvent:
        return CANONICAL.validate_normalized(normalized)

    def _read(self, record: Record) -> list[InboundEvent]:
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

    def _stage(self, record: Record, fields: Mapping[str, Any]) -> str | None:
        return record.text(fields, "StageName", "StageName", required=False)

    def _read_change_event(
        self, record: Record, fields: dict[str, Any], message: dict[str, Any] | None = None
    ) -> list[InboundEvent]:
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
        changed = header.get("changedFields")
        if changed is not None and not (
            isinstance(changed, list) and all(isinstance(item, str) for item in changed)
        ):
            record.error(at + "changedFields", "Must be an array of field names.")
        stage = self._stage(record, fields)
        record.check()
        if change not in DATA_CHANGES or stage != CLOSED_WON:
            return []
        if change == "UPDATE" and changed is not None and not CONTRACT_FIELDS & set(changed):
            return []  # a closed-won Opportunity touched elsewhere: nothing new to sign
        if commit_number is None or sequence is None or committed_at is None:
            return []  # unreachable: check() refused the record
        data, sources = contract_data(fields)
        data["signed_at"] = iso(committed_at)
        sources.update(
            {
                "version": at + "commitNumber",
                "occurred_at": at + "commitTimestamp",
                "data.signed_at": at + "commitTimestamp",
            }
        )
        events = []
        for index, record_id in enumerate(record_ids):
            sources["id"] = sources["data.external_id"] = f"{at}recordIds[{index}]"
            normalized = {
                "type": "contract.signed",
                "id": f"{record_id}:{commit_number}:{sequence}",
                "occurred_at": iso(committed_at),
                "version": commit_number,
                "data": {**data, "external_id": record_id},
            }
            events.append(
                canonical_event(
                    record, normalized=normalized, sources=sources, payload=message or fields
                )
            )
        return events

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

    def _read_rest_record(self, record: Record, fields: dict[str, Any]) -> list[InboundEvent]:
        attributes = record.object(fields, "attributes", "attributes")
        if attributes is not None:
            kind = record.text(attributes, "type", "attributes.type")
            if kind is not None and kind != OPPORTUNITY:
                record.error(
                    "attributes.type", f"Must be {OPPORTUNITY!r}; this adapter reads Opportunities."
                )
        record_id = record.text(fields, "Id", "Id")
        modified_at: datetime | None = record.timestamp(fields, "SystemModstamp", "SystemModstamp")
        stage = self._stage(record, fields)
        record.check()
        if stage != CLOSED_WON or record_id is None or modified_at is None:
            return []
        data, sources = contract_data(fields)
        data["signed_at"] = iso(modified_at)
        data["external_id"] = record_id
        sources.update(
            {
                "id": "Id",
                "version": "SystemModstamp",
                "occurred_at": "SystemModstamp",
                "data.signed_at": "SystemModstamp",
                "data.external_id": "Id",
            }
        )
        normalized = {
            "type": "contract.signed",
            "id": f"{record_id}:{fields['SystemModstamp']}",
            "occurred_at": iso(modified_at),
            "version": version_of(modified_at),
            "data": data,
        }
        return [canonical_event(record, normalized=normalized, sources=sources, payload=fields)]
