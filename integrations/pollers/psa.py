"""Time entries from a PSA's REST API (``GET /api/v1/time-entries?changed_since=``).

The PSA speaks the tower's canonical dialect: a time entry is a record holding the
``time_entry.approved`` data fields (``number``, ``project``, ``resource``, ``work_date``,
``hours``, ``billable``, ``approved_at``, ``notes``, ``external_id``, ``resource_name``)
beside the API's own ``id``, ``created_at`` and ``updated_at``. The list is paged with
``limit``/``offset`` and answers ``next`` while there are more.

An entry is approved when it has an ``approved_at`` (and, when it carries a ``status``,
that status is ``approved``); any other is stored as ignored by that rule. The event id is
``psa-time-entry:<id>:<updated_at>``: the same change read twice is one transaction, a
later change of the entry is a new one.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from integrations.adapters import EventRejected, InboundEvent
from integrations.adapters.canonical import CanonicalAdapter, parse_iso8601
from integrations.choices import SystemKind
from integrations.clients.psa import PsaClient
from integrations.models import ConnectedSystem
from integrations.pollers.base import Page

EVENT_TYPE = "time_entry.approved"
NOT_APPROVED = "Not approved in the PSA: the time-entry poller takes approved entries only."

_canonical = CanonicalAdapter()


class PsaTimeEntries:
    system_kind = SystemKind.PSA
    record_type = "time_entry"
    resource = "time-entries"

    def page(
        self, system: ConnectedSystem, *, since: datetime | None, offset: int, limit: int
    ) -> Page:
        records, more = PsaClient(system).changed(
            self.resource, since=since, offset=offset, limit=limit
        )
        return Page(records=records, has_more=more)

    def changed_at(self, record: dict[str, Any]) -> datetime:
        value = record.get("updated_at")
        if not isinstance(value, str):
            raise ValueError("The record has no updated_at.")
        return parse_iso8601(value)

    def event(self, record: dict[str, Any]) -> InboundEvent:
        changed_at = self.changed_at(record)
        schema = _canonical.schema(EVENT_TYPE)
        fields = schema["properties"]["data"]["properties"]
        data = {name: record[name] for name in fields if record.get(name) is not None}
        envelope = {
            "type": EVENT_TYPE,
            "id": f"psa-time-entry:{record.get('id')}:{record['updated_at']}",
            "occurred_at": record.get("approved_at") or record["updated_at"],
            "version": int(changed_at.timestamp() * 1000),
            "data": data,
        }
        status = record.get("status")
        if not record.get("approved_at") or (status is not None and status != "approved"):
            return InboundEvent(
                event_type="time_entry.changed",
                flow_kind=schema["x-flow"],
                idempotency_key=envelope["id"],
                business_key=str(record.get("number") or record.get("id") or ""),
                version=envelope["version"],
                occurred_at=changed_at,
                payload=record,
                normalized=envelope,
                external_id=str(record.get("id", "")),
                ignored=NOT_APPROVED,
            )
        try:
            event = _canonical.validate_normalized(envelope)
        except EventRejected as exc:
            raise EventRejected(
                f"PSA time entry {record.get('id')} does not fit {EVENT_TYPE}.", errors=exc.errors
            ) from None
        # The PSA's record, as it answered, is what was received; the event is its reading.
        return replace(event, payload=record, external_id=str(record.get("id", "")))
