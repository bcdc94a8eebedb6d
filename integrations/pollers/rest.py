"""Records from the REST API of a system that speaks the tower's canonical dialect
(``GET <base>/api/v1/<collection>?changed_since=&limit=&offset=``).

Such a system keeps a record as the data fields of its canonical event (a PSA time entry:
``number``, ``project``, ``resource``, ``work_date``, ``hours``, ``billable``,
``approved_at``, ...; a CRM account: ``number``, ``name``, ``legal_entity``, ``currency``,
``active``) beside the API's own ``id``, ``created_at`` and ``updated_at``. The list is
oldest first, paged with ``limit``/``offset``, and answers ``next`` while there are more.

The event id is ``<system kind>-<collection>:<id>:<updated_at>``: the same change read
twice is one transaction, a later change of the record is a new one. A source may name a
rule (``takes``) that a record must meet; a record that does not is stored as ignored with
the rule's words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from integrations.adapters import EventRejected, InboundEvent
from integrations.adapters.canonical import CanonicalAdapter, parse_iso8601
from integrations.choices import Adapter, PollerRecordType, SystemKind
from integrations.clients.psa import PsaClient
from integrations.models import ConnectedSystem
from integrations.pollers.base import Page

_canonical = CanonicalAdapter()

Rule = Callable[[dict[str, Any]], bool]


class CanonicalRestSource:
    """One collection of a canonical REST API, read as one canonical event type."""

    adapter = Adapter.CANONICAL

    def __init__(
        self,
        *,
        system_kind: str,
        record_type: str,
        collection: str,
        event_type: str,
        takes: tuple[Rule, str] | None = None,
    ) -> None:
        self.system_kind = system_kind
        self.record_type = record_type
        self.collection = collection
        self.event_type = event_type
        self.takes = takes

    def page(
        self, system: ConnectedSystem, *, since: datetime | None, offset: int, limit: int
    ) -> Page:
        # PsaClient is the plain REST client that the CRM's and the CLM's APIs share.
        records, more = PsaClient(system).changed(
            self.collection, since=since, offset=offset, limit=limit
        )
        return Page(records=records, has_more=more)

    def changed_at(self, record: dict[str, Any]) -> datetime:
        value = record.get("updated_at")
        if not isinstance(value, str):
            raise ValueError("The record has no updated_at.")
        return parse_iso8601(value)

    def event(self, record: dict[str, Any]) -> InboundEvent:
        changed_at = self.changed_at(record)
        schema = _canonical.schema(self.event_type)
        fields = schema["properties"]["data"]["properties"]
        envelope = {
            "type": self.event_type,
            "id": f"{self.system_kind}-{self.collection}:{record.get('id')}:{record['updated_at']}",
            "occurred_at": record["updated_at"],
            "version": int(changed_at.timestamp() * 1000),
            "data": {name: record[name] for name in fields if record.get(name) is not None},
        }
        if self.takes is not None and not self.takes[0](record):
            entity = self.event_type.split(".")[0]
            return InboundEvent(
                event_type=f"{entity}.changed",
                flow_kind=schema["x-flow"],
                idempotency_key=envelope["id"],
                business_key=str(record.get(schema["x-business-key"]) or record.get("id") or ""),
                version=envelope["version"],
                occurred_at=changed_at,
                payload=record,
                normalized=envelope,
                external_id=str(record.get("id", "")),
                ignored=self.takes[1],
            )
        try:
            event = _canonical.validate_normalized(envelope)
        except EventRejected as exc:
            raise EventRejected(
                f"Record {record.get('id')} of {self.collection} does not fit {self.event_type}.",
                errors=exc.errors,
            ) from None
        # What the system answered is what was received; the event is its reading.
        return replace(event, payload=record, external_id=str(record.get("id", "")))


def _approved(record: dict[str, Any]) -> bool:
    status = record.get("status")
    return bool(record.get("approved_at")) and status in (None, "approved")


PSA_TIME_ENTRIES = CanonicalRestSource(
    system_kind=SystemKind.PSA,
    record_type=PollerRecordType.TIME_ENTRY,
    collection="time-entries",
    event_type="time_entry.approved",
    takes=(
        _approved,
        "Not approved in the PSA: the time-entry poller takes approved entries only.",
    ),
)
CRM_ACCOUNTS = CanonicalRestSource(
    system_kind=SystemKind.CRM,
    record_type=PollerRecordType.CUSTOMER,
    collection="accounts",
    event_type="customer.upserted",
)
