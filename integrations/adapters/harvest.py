"""Harvest (API v2) time entries, approved.

Harvest has no webhooks: the tower's poller, or a forwarder, reads ``GET
/v2/time_entries`` and posts what it got, signed with the tower's own
``X-CT-Signature``. The body is one time entry object, a JSON array of them, or the
list response itself (``{"time_entries": [...], "per_page": ..., "links": ...}``).

An entry is final when Harvest has approved it through Timesheet Approval
(``is_closed``) or locked it (``is_locked``: approved, invoiced or in a locked period):
the default mapping takes such an entry as ``time_entry.approved`` and records any
other as ignored; a firm that does not approve time in Harvest drops the condition.

The envelope gives the entry's identity and its person (developers: help.getharvest.com,
"Harvest API v2: Time Entries"):

=====================  ===========================  =====================================
Harvest field          canonical ``data`` field     note
=====================  ===========================  =====================================
``id`` (integer)       ``number``, ``external_id``  business key
``user.id``            ``resource``                 ``HARVEST-<user.id>``: a time entry
                                                    names its user only by id and name,
                                                    and Harvest users carry no employee
                                                    number; the tower maps the id to a
                                                    resource through the resource's
                                                    Harvest sync state: linked by a
                                                    person once, or found by the
                                                    user's e-mail (``match``)
``updated_at``         ``approved_at``,             the last change, here the approval
                       ``occurred_at``
=====================  ===========================  =====================================

The mapping (``DEFAULT``) reads ``project.code`` (the project code shared with the PSA)
or, when the account keeps no codes, ``project.id`` as a cross-reference
(``HARVEST-<project.id>``, the project whose Harvest sync state holds the id), ``spent_date``, ``hours`` (not ``rounded_hours``), ``billable``, ``notes`` and
``user.name`` (shown while the user is not linked).

Idempotency key ``<id>:<updated_at>``; version ``updated_at`` in epoch milliseconds.
"""

from __future__ import annotations

from integrations.adapters.vendor import (
    Record,
    VendorAdapter,
    VendorRecord,
    iso,
    require_object,
    version_of,
)

REF_PREFIX = "HARVEST-"

DEFAULT = {
    "when": [{"source": "is_locked", "in": [True]}, {"source": "is_closed", "in": [True]}],
    "fields": [
        {"field": "project", "source": ["project.code", {"ref": "project.id"}]},
        {"field": "work_date", "source": "spent_date"},
        {"field": "hours", "source": "hours", "transform": "number"},
        {"field": "billable", "source": "billable"},
        {"field": "notes", "source": "notes"},
        {"field": "resource_name", "source": "user.name"},
    ],
    # A user nobody linked yet is found by the e-mail Harvest has for them ("Retrieve a
    # user", ``GET /v2/users/{USER_ID}``), the one the HRIS gave the resource.
    "match": {"resource": {"read": "/v2/users/{id}", "source": "email", "field": "email"}},
}


class HarvestAdapter(VendorAdapter):
    name = "harvest"
    list_key = "time_entries"
    defaults = {"time_entry": DEFAULT}
    # Harvest names people (and, without project codes, projects) by its own ids: a
    # resource's or project's Harvest id is its sync state in Harvest.
    ref_prefix = REF_PREFIX
    ref_kinds = ("resource", "project")
    probe_path = "/v2/company"  # "Retrieve a company": reads no user, project or entry

    def read(self, record: Record) -> list[VendorRecord]:
        entry = require_object(record)
        entry_id = record.integer(entry, "id", "id", minimum=1)
        updated_at = record.timestamp(entry, "updated_at", "updated_at")
        record.boolean(entry, "is_locked", "is_locked")
        record.boolean(entry, "is_closed", "is_closed", required=False)
        user = record.object(entry, "user", "user")
        user_id = record.integer(user, "id", "user.id", minimum=1) if user is not None else None
        project = entry.get("project")
        if project is not None and not isinstance(project, dict):
            record.error("project", "Must be an object.")
        record.check()
        if entry_id is None or updated_at is None or user_id is None:
            return []  # unreachable: check() refused the record
        return [
            VendorRecord(
                record_type="time_entry",
                record=record,
                key=f"{entry_id}:{entry['updated_at']}",
                occurred_at=updated_at,
                version=version_of(updated_at),
                external_id=str(entry_id),
                payload=entry,
                fixed={
                    "number": str(entry_id),
                    "external_id": str(entry_id),
                    "resource": f"{REF_PREFIX}{user_id}",
                    "approved_at": iso(updated_at),
                },
                fixed_sources={
                    "data.number": "id",
                    "data.external_id": "id",
                    "data.resource": "user.id",
                    "data.approved_at": "updated_at",
                },
            )
        ]
