"""BambooHR employee webhooks: field-based (global) and event-based.

A field-based webhook (JSON) posts the employees whose monitored fields changed, with
the current value of every field it is set to post:

``{"employees": [{"id": "123", "action": "Updated", "timestamp":
"2026-11-02T09:30:00+0000", "changedFields": ["Job Title"], "fields": {"Employee #":
"E-0107", "First Name": "Ada", ...}}]}``

Each employee becomes ``resource.upserted``; a ``Deleted`` action, or an employee posted
with an empty ``fields`` object, is recorded as ignored: there is nothing to upsert.
The envelope is the employee ``id`` (``external_id``), ``action`` and ``timestamp``; the
mapping reads the fields. ``DEFAULT`` reads them by their English names or their API
aliases, for a webhook set up with aliases (documentation.bamboohr.com, "Webhooks"):

=====================  ===================  ===============================================
BambooHR field         alias                canonical ``data`` field
=====================  ===================  ===============================================
``Employee #``         ``employeeNumber``   ``employee_number`` (business key)
``First Name`` +       ``firstName`` +      ``name``
``Last Name``          ``lastName``
``Work Email``         ``workEmail``        ``email``
``Job Title``          ``jobTitle``         ``role`` (must match a rate card role)
``Division``           ``division``         ``legal_entity``: the division holds the
                                            company code of the legal entity (``US01``)
``Status``             ``status``           ``active``: ``Active`` / ``Inactive``
=====================  ===================  ===============================================

An event-based webhook (documentation.bamboohr.com, "Event-Based Webhooks") carries
only ids and the names of the changed fields:

``{"type": "employee.updated", "timestamp": "2026-01-31T18:42:00+0000", "data":
{"companyId": "12345", "employeeId": "67890", "changedFields": ["firstName"]}}``

An ``employee.created`` or ``employee.updated`` is a thin event: it is accepted at once
and, when it runs, the tower reads the employee from BambooHR's API ("Get Employee":
``GET <base URL>/v1/employees/<id>/?fields=...``, the system's base URL being
``https://api.bamboohr.com/api/gateway.php/<company domain>`` and its credentials HTTP
Basic with the API key as the user name). What it read is kept in the payload under
``fields`` (by alias) and mapped as a field-based employee. An update whose
``changedFields`` the mapping does not read is ignored without a call; an
``employee.deleted``, or a type the tower does not know, is recorded as ignored; an
employee the API no longer has (404) is ignored when the event runs.

The tower's poller (``integrations.pollers.bamboohr``) reads BambooHR's "Get Changed
Employee IDs" (``GET <base URL>/v1/employees/changed/?since=``), one entry per employee
changed since then: ``{"id": "3", "action": "Updated", "lastChanged":
"2011-06-02T19:26:23+00:00"}``. An entry is a thin event like an event-based webhook's:
read from "Get Employee" when it runs; a ``Deleted`` one is recorded as ignored.

Idempotency key ``<id>:<timestamp>`` (a changed-employees entry: ``<id>:<lastChanged>``),
the time as BambooHR wrote it; version: that time in epoch milliseconds. A change that
reaches the tower both by a webhook and by the poller has one key only where BambooHR
wrote the same time the same way, which it does not promise: its documented webhooks write
``+0000`` and its change tracking ``+00:00``, and ``lastChanged`` is the employee's latest
change, not each change (several changes between two polls are one entry). The second
arrival is then a second transaction, but not a second change: the resource holds the
version it was given, so the same version again leaves it ``unchanged`` and an older one
is ``stale``.

Signature (BambooHR's "private key" on the webhook): ``X-BambooHR-Signature`` is the hex
HMAC-SHA256 of the raw body followed by the ``X-BambooHR-Timestamp`` header value,
keyed with the private key. The timestamp (unix seconds, or an ISO 8601 date-time) must
be within ``CT_SIGNATURE_TOLERANCE_SECONDS`` of now, as for the tower's own signature.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from django.conf import settings

from integrations.adapters.base import EventRejected
from integrations.adapters.vendor import (
    FetchRequest,
    Record,
    VendorAdapter,
    VendorRecord,
    VendorSignatureError,
    ignored_record,
    require_object,
    version_of,
)

if TYPE_CHECKING:
    from integrations.models import ConnectedSystem

SIGNATURE = "X-BambooHR-Signature"
TIMESTAMP = "X-BambooHR-Timestamp"
HEX_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
# The event types of an event-based webhook, and what the tower reads of an employee.
EVENT_TYPES = {"employee.created", "employee.updated", "employee.deleted"}
# The actions of "Get Changed Employee IDs".
CHANGE_ACTIONS = {"inserted", "updated", "deleted"}
FETCHED_FIELDS = (
    "employeeNumber",
    "firstName",
    "lastName",
    "workEmail",
    "jobTitle",
    "division",
    "status",
)


def named(name: str, alias: str) -> list[str]:
    """A field by its English name or its API alias."""
    return [f"fields.{name}", f"fields.{alias}"]


DEFAULT = {
    "fields": [
        {
            "field": "employee_number",
            "source": named("Employee #", "employeeNumber"),
            "transform": "text",
        },
        {
            "field": "name",
            "source": [*named("First Name", "firstName"), *named("Last Name", "lastName")],
            "join": " ",
        },
        {"field": "email", "source": named("Work Email", "workEmail")},
        {"field": "role", "source": named("Job Title", "jobTitle")},
        {"field": "legal_entity", "source": named("Division", "division")},
        {
            "field": "active",
            "source": named("Status", "status"),
            "values": {"Active": True, "Inactive": False},
            "strict": True,
        },
    ]
}


def _signature_error(reason: str) -> VendorSignatureError:
    messages = {
        "missing": f"The {SIGNATURE} or {TIMESTAMP} header is missing.",
        "malformed": f"{SIGNATURE} must be a hex HMAC-SHA256 and {TIMESTAMP} a unix time "
        "or an ISO 8601 date-time.",
        "expired": f"The {TIMESTAMP} is outside the allowed tolerance.",
        "mismatch": f"The {SIGNATURE} does not match the body and timestamp.",
        "no_secret": "No webhook private key is configured for this system.",
    }
    return VendorSignatureError(reason, messages[reason])


def _seconds(value: str) -> float | None:
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        parsed = datetime.fromisoformat(re.sub(r"[Zz]$", "+00:00", value))
        return parsed.timestamp() if parsed.tzinfo is not None else None
    except (ValueError, OverflowError):
        return None


# Why a deleted employee is recorded as ignored, however the deletion arrived.
DELETED = "A Deleted employee: the tower upserts resources, it deletes none."


class BambooHRAdapter(VendorAdapter):
    name = "bamboohr"
    defaults = {"resource": DEFAULT}
    probe_path = "/v1/meta/fields/"  # "Get a list of fields": reads no employee

    def verify(
        self,
        *,
        system: ConnectedSystem,
        headers: Mapping[str, str],
        body: bytes,
        now: float | None = None,
    ) -> None:
        secrets = system.inbound_secrets()
        if not secrets:
            raise _signature_error("no_secret")
        signature = (headers.get(SIGNATURE) or "").strip()
        stamp = (headers.get(TIMESTAMP) or "").strip()
        if not signature or not stamp:
            raise _signature_error("missing")
        sent_at = _seconds(stamp)
        if not HEX_SHA256.match(signature) or sent_at is None:
            raise _signature_error("malformed")
        now = time.time() if now is None else now
        if abs(now - sent_at) > settings.CT_SIGNATURE_TOLERANCE_SECONDS:
            raise _signature_error("expired")
        message = body + stamp.encode()
        expected = [hmac.new(s.encode(), message, hashlib.sha256).hexdigest() for s in secrets]
        if not any(hmac.compare_digest(e, signature.lower()) for e in expected):
            raise _signature_error("mismatch")

    def records(self, document: Any) -> list[tuple[str, Any]]:
        if isinstance(document, dict) and "employees" not in document and "type" in document:
            return [("", document)]  # an event-based webhook: one event
        if not isinstance(document, dict) or not isinstance(document.get("employees"), list):
            raise EventRejected(
                'employees: expected a field-based webhook body, {"employees": [...]}, or an '
                'event-based one, {"type": ..., "data": {...}}.',
                errors={"employees": ["Must be an array of employees."]},
            )
        return [(f"employees[{i}]", item) for i, item in enumerate(document["employees"])]

    def read(self, record: Record) -> list[VendorRecord]:
        employee = require_object(record)
        if "type" in employee and "employees" not in employee and "action" not in employee:
            return [self._read_event(record, employee)]
        if "lastChanged" in employee and "timestamp" not in employee:
            return [self._read_change(record, employee)]
        employee_id = record.identifier(employee, "id", "id")
        changed_at = record.timestamp(employee, "timestamp", "timestamp")
        action = record.text(employee, "action", "action", required=False)
        if action is not None and action.lower() not in {"created", "updated", "deleted"}:
            record.error("action", "Must be Created, Updated or Deleted.")
        fields = employee.get("fields")
        if fields is not None and not isinstance(fields, dict):
            record.error("fields", "Must be an object.")
        record.check()
        if employee_id is None or changed_at is None:
            return []  # unreachable: check() refused the record
        key = f"{employee_id}:{employee['timestamp']}"
        ignored = ""
        if (action or "").lower() == "deleted":
            ignored = DELETED
        elif not fields:
            ignored = "An employee posted without field values: nothing to upsert."
        return [
            VendorRecord(
                record_type="resource",
                record=record,
                key=key,
                occurred_at=changed_at,
                version=version_of(changed_at),
                external_id=employee_id,
                payload=employee,
                fixed={"external_id": employee_id},
                fixed_sources={"data.external_id": "id"},
                ignored=ignored,
            )
        ]

    def _read_event(self, record: Record, event: dict[str, Any]) -> VendorRecord:
        """An event-based webhook: thin until its employee is read (``fields``)."""
        kind = record.text(event, "type", "type")
        data = record.object(event, "data", "data") or {}
        if kind is not None and kind not in EVENT_TYPES:
            record.check()
            return ignored_record(
                record,
                record_type="resource",
                reason=f"A BambooHR {kind} event: the tower reads employee events only.",
                parts=[data.get("employeeId"), event.get("timestamp")],
                moment=event.get("timestamp"),
                external_id=data.get("employeeId"),
            )
        employee_id = record.identifier(data, "employeeId", "data.employeeId")
        changed_at = record.timestamp(event, "timestamp", "timestamp")
        changed = data.get("changedFields")
        if changed is not None and not (
            isinstance(changed, list) and all(isinstance(name, str) for name in changed)
        ):
            record.error("data.changedFields", "Must be an array of field names.")
        fields = event.get("fields")
        if fields is not None and not isinstance(fields, dict):
            record.error("fields", "Must be an object.")
        record.check()
        if employee_id is None or changed_at is None:
            raise AssertionError("unreachable: check() refused the record")
        ignored = ""
        if kind == "employee.deleted":
            ignored = DELETED
        return VendorRecord(
            record_type="resource",
            record=record,
            key=f"{employee_id}:{event['timestamp']}",
            occurred_at=changed_at,
            version=version_of(changed_at),
            external_id=employee_id,
            payload=event,
            fixed={"external_id": employee_id},
            fixed_sources={"data.external_id": "data.employeeId"},
            changed=changed if kind == "employee.updated" and changed else None,
            ignored=ignored,
            fetch=employee_id if fields is None and not ignored else "",
        )

    def _read_change(self, record: Record, entry: dict[str, Any]) -> VendorRecord:
        """An entry of "Get Changed Employee IDs": thin until its employee is read."""
        employee_id = record.identifier(entry, "id", "id")
        changed_at = record.timestamp(entry, "lastChanged", "lastChanged")
        action = record.text(entry, "action", "action")
        if action is not None and action.lower() not in CHANGE_ACTIONS:
            record.error("action", "Must be Inserted, Updated or Deleted.")
        fields = entry.get("fields")
        if fields is not None and not isinstance(fields, dict):
            record.error("fields", "Must be an object.")
        record.check()
        if employee_id is None or changed_at is None or action is None:
            raise AssertionError("unreachable: check() refused the record")
        ignored = ""
        if action.lower() == "deleted":
            ignored = DELETED
        return VendorRecord(
            record_type="resource",
            record=record,
            key=f"{employee_id}:{entry['lastChanged']}",
            occurred_at=changed_at,
            version=version_of(changed_at),
            external_id=employee_id,
            payload=entry,
            fixed={"external_id": employee_id},
            fixed_sources={"data.external_id": "id"},
            ignored=ignored,
            fetch=employee_id if fields is None and not ignored else "",
        )

    def fetch_request(self, record_id: str) -> FetchRequest:
        return FetchRequest(
            path=f"/v1/employees/{quote(record_id, safe='')}/",
            params={"fields": ",".join(FETCHED_FIELDS)},
        )

    def fetch_merge(self, payload: Any, fetched: Any) -> Any:
        return {**payload, "fields": fetched}
