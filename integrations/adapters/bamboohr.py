"""BambooHR field-based (global) employee webhooks.

A field-based webhook (JSON) posts the employees whose monitored fields changed, with
the current value of every field it is set to post:

``{"employees": [{"id": "123", "action": "Updated", "timestamp":
"2026-11-02T09:30:00+0000", "changedFields": ["Job Title"], "fields": {"Employee #":
"E-0107", "First Name": "Ada", ...}}]}``

Each employee becomes ``resource.upserted``; a ``Deleted`` action, or an employee posted
with an empty ``fields`` object, is skipped: there is nothing to upsert. The webhook must post the fields below; BambooHR names them in English by
default, and the API aliases (``employeeNumber``, ``firstName``, ...) are read too,
for a webhook set up with aliases. An event-based webhook (``{"type":
"employee.updated", "data": {...}}``) carries no field values and is refused.

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
employee ``id``                             ``external_id``
=====================  ===================  ===============================================

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

from integrations.adapters.base import EventRejected, InboundEvent
from integrations.adapters.jsonbody import load
from integrations.adapters.vendor import (
    CANONICAL,
    Record,
    VendorSignatureError,
    canonical_event,
    iso,
    present,
    read_records,
    require_object,
    version_of,
)

if TYPE_CHECKING:
    from integrations.models import ConnectedSystem

SIGNATURE = "X-BambooHR-Signature"
TIMESTAMP = "X-BambooHR-Timestamp"
HEX_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")

# canonical field -> (BambooHR field name, API alias)
FIELDS = {
    "employee_number": ("Employee #", "employeeNumber"),
    "first_name": ("First Name", "firstName"),
    "last_name": ("Last Name", "lastName"),
    "email": ("Work Email", "workEmail"),
    "role": ("Job Title", "jobTitle"),
    "legal_entity": ("Division", "division"),
    "status": ("Status", "status"),
}
ACTIVE = {"active": True, "inactive": False}


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


class BambooHRAdapter:
    name = "bamboohr"

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

    def parse(self, *, body: bytes) -> list[InboundEvent]:
        document = load(body)
        if isinstance(document, dict) and "employees" not in document and "type" in document:
            raise EventRejected(
                "type: an event-based BambooHR webhook carries no field values.",
                errors={
                    "type": [
                        "Set the webhook to the field-based data structure, posting "
                        + ", ".join(name for name, _ in FIELDS.values())
                        + "."
                    ]
                },
            )
        if not isinstance(document, dict) or not isinstance(document.get("employees"), list):
            raise EventRejected(
                'employees: expected a field-based webhook body, {"employees": [...]}.',
                errors={"employees": ["Must be an array of employees."]},
            )
        records = [(f"employees[{i}]", item) for i, item in enumerate(document["employees"])]
        return read_records(records, self._read)

    def validate_normalized(self, normalized: Any) -> InboundEvent:
        return CANONICAL.validate_normalized(normalized)

    def _read(self, record: Record) -> list[InboundEvent]:
        employee = require_object(record)
        employee_id = record.identifier(employee, "id", "id")
        changed_at = record.timestamp(employee, "timestamp", "timestamp")
        action = record.text(employee, "action", "action", required=False)
        if action is not None and action.lower() not in {"created", "updated", "deleted"}:
            record.error("action", "Must be Created, Updated or Deleted.")
        record.check()
        if (action or "").lower() == "deleted" or employee_id is None or changed_at is None:
            return []
        fields = record.object(employee, "fields", "fields")
        record.check()
        if not fields:
            return []  # posted without field values: nothing to upsert
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for canonical, (name, alias) in FIELDS.items():
            key = name if name in fields or alias not in fields else alias
            values[canonical] = fields.get(key)
            sources[canonical] = f"fields.{key}"
        number = values["employee_number"]
        if isinstance(number, int) and not isinstance(number, bool):
            values["employee_number"] = str(number)
        status = values.pop("status")
        if present(status):
            if not isinstance(status, str) or status.lower() not in ACTIVE:
                record.error(sources["status"], "Must be Active or Inactive.")
            else:
                values["active"] = ACTIVE[status.lower()]
        first, last = values.pop("first_name"), values.pop("last_name")
        parts = [part for part in (first, last) if present(part)]
        if parts and all(isinstance(part, str) for part in parts):
            values["name"] = " ".join(parts)
        elif parts:
            record.error(sources["first_name"], "First and last name must be strings.")
        record.check()
        data = {key: value for key, value in values.items() if present(value)}
        data["external_id"] = employee_id
        normalized = {
            "type": "resource.upserted",
            "id": f"{employee_id}:{employee['timestamp']}",
            "occurred_at": iso(changed_at),
            "version": version_of(changed_at),
            "data": data,
        }
        return [
            canonical_event(
                record,
                normalized=normalized,
                sources={
                    "id": "timestamp",
                    "version": "timestamp",
                    "occurred_at": "timestamp",
                    "data.external_id": "id",
                    "data.employee_number": sources["employee_number"],
                    "data.name": sources["first_name"],
                    "data.email": sources["email"],
                    "data.role": sources["role"],
                    "data.legal_entity": sources["legal_entity"],
                    "data.active": sources["status"],
                },
                payload=employee,
            )
        ]
