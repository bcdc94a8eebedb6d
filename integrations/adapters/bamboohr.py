"""BambooHR field-based (global) employee webhooks.

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

An event-based webhook (``{"type": "employee.updated", "data": {...}}``) carries no
field values and is refused.

Idempotency key ``<id>:<timestamp>``; version: ``timestamp`` in epoch milliseconds.

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

from django.conf import settings

from integrations.adapters.base import EventRejected
from integrations.adapters.vendor import (
    Record,
    VendorAdapter,
    VendorRecord,
    VendorSignatureError,
    require_object,
    version_of,
)

if TYPE_CHECKING:
    from integrations.models import ConnectedSystem

SIGNATURE = "X-BambooHR-Signature"
TIMESTAMP = "X-BambooHR-Timestamp"
HEX_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


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


class BambooHRAdapter(VendorAdapter):
    name = "bamboohr"
    defaults = {"resource": DEFAULT}

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
            raise EventRejected(
                "type: an event-based BambooHR webhook carries no field values.",
                errors={"type": ["Set the webhook to the field-based data structure."]},
            )
        if not isinstance(document, dict) or not isinstance(document.get("employees"), list):
            raise EventRejected(
                'employees: expected a field-based webhook body, {"employees": [...]}.',
                errors={"employees": ["Must be an array of employees."]},
            )
        return [(f"employees[{i}]", item) for i, item in enumerate(document["employees"])]

    def read(self, record: Record) -> list[VendorRecord]:
        employee = require_object(record)
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
            ignored = "A Deleted employee: the tower upserts resources, it deletes none."
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
