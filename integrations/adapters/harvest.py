"""Harvest (API v2) time entries, approved.

Harvest has no webhooks: the tower's poller, or a forwarder, reads ``GET
/v2/time_entries`` and posts what it got, signed with the tower's own
``X-CT-Signature``. The body is one time entry object, a JSON array of them, or the
list response itself (``{"time_entries": [...], "per_page": ..., "links": ...}``).

An entry is final when Harvest has approved it through Timesheet Approval
(``is_closed``) or locked it (``is_locked``: approved, invoiced or in a locked period);
such an entry becomes ``time_entry.approved``. Any other entry is skipped.

=====================  ===========================  =====================================
Harvest field          canonical ``data`` field     note
=====================  ===========================  =====================================
``id`` (integer)       ``number``, ``external_id``  business key
``project.code``       ``project``                  the project code shared with the PSA
``user.id``            ``resource``                 ``HARVEST-<user.id>``: a time entry
                                                    names its user only by id and name,
                                                    and Harvest users carry no employee
                                                    number; the tower maps the id to a
                                                    resource through the resource's
                                                    Harvest sync state (linked once)
``user.name``          ``resource_name``            shown when the user is not linked
``spent_date``         ``work_date``                YYYY-MM-DD
``hours`` (decimal)    ``hours``                    not ``rounded_hours``
``billable``           ``billable``
``notes``              ``notes``                    optional
``updated_at``         ``approved_at``,             the last change, here the approval
                       ``occurred_at``
=====================  ===========================  =====================================

Idempotency key ``<id>:<updated_at>``; version ``updated_at`` in epoch milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from integrations.adapters.base import InboundEvent
from integrations.adapters.jsonbody import load
from integrations.adapters.vendor import (
    CANONICAL,
    Record,
    canonical_event,
    iso,
    listed,
    number,
    present,
    read_records,
    require_object,
    version_of,
)

if TYPE_CHECKING:
    from integrations.models import ConnectedSystem

RESOURCE_PREFIX = "HARVEST-"


class HarvestAdapter:
    name = "harvest"
    # Resources are named by Harvest user id; a resource's Harvest id is its sync state.
    resource_prefix = RESOURCE_PREFIX

    def verify(self, *, system: ConnectedSystem, headers: Mapping[str, str], body: bytes) -> None:
        CANONICAL.verify(system=system, headers=headers, body=body)

    def parse(self, *, body: bytes) -> list[InboundEvent]:
        return read_records(listed(load(body), "time_entries"), self._read)

    def validate_normalized(self, normalized: Any) -> InboundEvent:
        return CANONICAL.validate_normalized(normalized)

    def _read(self, record: Record) -> list[InboundEvent]:
        entry = require_object(record)
        entry_id = record.integer(entry, "id", "id", minimum=1)
        updated_at = record.timestamp(entry, "updated_at", "updated_at")
        locked = record.boolean(entry, "is_locked", "is_locked")
        closed = record.boolean(entry, "is_closed", "is_closed", required=False)
        record.check()
        if not (locked or closed) or entry_id is None or updated_at is None:
            return []
        user = record.object(entry, "user", "user")
        user_id = record.integer(user, "id", "user.id", minimum=1) if user is not None else None
        project = record.object(entry, "project", "project")
        record.check()
        data: dict[str, Any] = {
            "number": str(entry_id),
            "resource": f"{RESOURCE_PREFIX}{user_id}",
            "approved_at": iso(updated_at),
            "external_id": str(entry_id),
        }
        for canonical, field in (
            ("project", (project or {}).get("code")),
            ("work_date", entry.get("spent_date")),
            ("hours", number(entry.get("hours"))),
            ("billable", entry.get("billable")),
            ("notes", entry.get("notes")),
            ("resource_name", (user or {}).get("name")),
        ):
            if present(field):
                data[canonical] = field
        sources = {
            "id": "updated_at",
            "version": "updated_at",
            "occurred_at": "updated_at",
            "data.number": "id",
            "data.external_id": "id",
            "data.resource": "user.id",
            "data.resource_name": "user.name",
            "data.approved_at": "updated_at",
            "data.project": "project.code",
            "data.work_date": "spent_date",
            "data.hours": "hours",
            "data.billable": "billable",
            "data.notes": "notes",
        }
        normalized = {
            "type": "time_entry.approved",
            "id": f"{entry_id}:{entry['updated_at']}",
            "occurred_at": iso(updated_at),
            "version": version_of(updated_at),
            "data": data,
        }
        return [canonical_event(record, normalized=normalized, sources=sources, payload=entry)]
