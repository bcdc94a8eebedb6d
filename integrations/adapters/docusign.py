"""DocuSign Connect: ``envelope-completed`` in the JSON SIM event model, terms in custom fields.

The Connect configuration sends JSON SIM messages (one event per request) with the
envelope summary and its custom fields included, and HMAC signing on:

``{"event": "envelope-completed", "apiVersion": "v2.1", "uri": ..., "retryCount": 0,
"configurationId": ..., "generatedDateTime": "2026-11-02T09:30:05.1234567Z",
"data": {"accountId": ..., "userId": ..., "envelopeId": ..., "envelopeSummary":
{"status": "completed", "emailSubject": ..., "statusChangedDateTime": ...,
"completedDateTime": ..., "customFields": {"textCustomFields": [{"name", "value"}, ...],
"listCustomFields": [...]}, ...}}}``
(developers.docusign.com, "Connect JSON SIM event model" and "Envelope custom fields").

One message or a JSON array of them is read. Only ``envelope-completed`` becomes
``contract.signed``; every other event (``envelope-sent``, ``recipient-completed``, ...)
is recorded as ignored. DocuSign's date-times carry seven fractional digits; they are read.

The envelope gives the event's identity and time:

=====================  ===========================  =================================
DocuSign               canonical                    note
=====================  ===========================  =================================
``envelopeId``         ``data.external_id``
``completedDateTime``  ``data.signed_at``           else ``statusChangedDateTime``
=====================  ===========================  =================================

The contract's terms live in envelope custom fields, named as each account likes: the
mapping says which (``DEFAULT`` reads ``Contract_Number``, ``Customer_Number``,
``Legal_Entity``, ``Currency``, ``Billing_Model``, ``Start_Date``, ``End_Date``,
``Rate_Card``, ``Cap_Amount``, ``Monthly_Fee``, ``Included_Hours``,
``Unused_Hours_Roll_Over``, ``Project_Code`` and ``Project_Name``, text or list
fields alike, the project name falling back to the envelope's ``emailSubject``). A
value is named by its place, ``data.envelopeSummary.customFields.textCustomFields[3].value``,
or, when it is missing, by the mapping's path ``...customFields.*[name=Contract_Number].value``.

Idempotency key: DocuSign sends no event id, so ``<envelopeId>:<event>:<status changed
time>`` (``statusChangedDateTime``, else ``completedDateTime``). Version: that time in
epoch milliseconds.

Signature: ``X-DocuSign-Signature-1`` .. ``-N``, one per active Connect HMAC key, each
the base64 HMAC-SHA256 of the raw body; one match with any secret of the system is
enough. DocuSign signs no timestamp, so there is no replay window (no ``expired``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from integrations.adapters.vendor import (
    Record,
    VendorAdapter,
    VendorRecord,
    VendorSignatureError,
    ignored_record,
    iso,
    present,
    require_object,
    version_of,
)

if TYPE_CHECKING:
    from integrations.models import ConnectedSystem

HEADER = re.compile(r"^x-docusign-signature-(\d+)$", re.IGNORECASE)
COMPLETED = "envelope-completed"
SUMMARY = "data.envelopeSummary"
CUSTOM = f"{SUMMARY}.customFields"


def custom(name: str) -> str:
    """The path of a custom field's value, text or list field alike."""
    return f"{CUSTOM}.*[name={name}].value"


DEFAULT = {
    "fields": [
        {"field": "number", "source": custom("Contract_Number"), "required": True},
        {"field": "customer", "source": custom("Customer_Number")},
        {"field": "legal_entity", "source": custom("Legal_Entity")},
        {"field": "currency", "source": custom("Currency")},
        {"field": "billing_model", "source": custom("Billing_Model"), "transform": "billing_model"},
        {"field": "start_date", "source": custom("Start_Date")},
        {"field": "end_date", "source": custom("End_Date")},
        {"field": "rate_card", "source": custom("Rate_Card")},
        {"field": "cap_amount", "source": custom("Cap_Amount"), "transform": "money"},
        {"field": "monthly_fee", "source": custom("Monthly_Fee"), "transform": "money"},
        {"field": "included_hours", "source": custom("Included_Hours"), "transform": "number"},
        {
            "field": "unused_hours_roll_over",
            "source": custom("Unused_Hours_Roll_Over"),
            "transform": "boolean",
        },
        {"field": "project.code", "source": custom("Project_Code")},
        {"field": "project.name", "source": [custom("Project_Name"), f"{SUMMARY}.emailSubject"]},
    ]
}


def _signature_error(reason: str) -> VendorSignatureError:
    messages = {
        "missing": "No X-DocuSign-Signature-<n> header was sent.",
        "malformed": "The X-DocuSign-Signature-<n> headers are not base64 HMAC-SHA256 values.",
        "mismatch": "No X-DocuSign-Signature-<n> header matches the body.",
        "no_secret": "No inbound HMAC key is configured for this system.",
    }
    return VendorSignatureError(reason, messages[reason])


class DocuSignAdapter(VendorAdapter):
    name = "docusign"
    defaults = {"contract": DEFAULT}

    def verify(self, *, system: ConnectedSystem, headers: Mapping[str, str], body: bytes) -> None:
        secrets = system.inbound_secrets()
        if not secrets:
            raise _signature_error("no_secret")
        values = [
            value.strip()
            for name, value in headers.items()
            if HEADER.match(name) and value and value.strip()
        ]
        if not values:
            raise _signature_error("missing")
        sent = []
        for value in values:
            try:
                digest = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                continue
            if len(digest) == hashlib.sha256().digest_size:
                sent.append(digest)
        if not sent:
            raise _signature_error("malformed")
        expected = [hmac.new(s.encode(), body, hashlib.sha256).digest() for s in secrets]
        if not any(hmac.compare_digest(e, s) for e in expected for s in sent):
            raise _signature_error("mismatch")

    def read(self, record: Record) -> list[VendorRecord]:
        message = require_object(record)
        event = record.text(message, "event", "event")
        record.check()
        if event != COMPLETED:
            data = message.get("data") if isinstance(message.get("data"), dict) else {}
            summary = data.get("envelopeSummary")
            summary = summary if isinstance(summary, dict) else {}
            changed = summary.get("statusChangedDateTime") or message.get("generatedDateTime")
            return [
                ignored_record(
                    record,
                    record_type="contract",
                    reason=f"A DocuSign {event!r} event: only {COMPLETED!r} signs a contract.",
                    parts=[data.get("envelopeId"), event, changed],
                    moment=changed,
                    external_id=data.get("envelopeId"),
                )
            ]
        data = record.object(message, "data", "data")
        envelope_id = (
            record.text(data, "envelopeId", "data.envelopeId") if data is not None else None
        )
        record.check()
        summary = record.object(data, "envelopeSummary", SUMMARY) if data is not None else None
        record.check()
        if summary is None or envelope_id is None:
            return []  # unreachable: check() refused the record
        status = record.text(summary, "status", f"{SUMMARY}.status")
        if status is not None and status != "completed":
            record.error(f"{SUMMARY}.status", f"Must be 'completed' for {COMPLETED}.")
        changed_key = (
            "statusChangedDateTime"
            if present(summary.get("statusChangedDateTime"))
            else "completedDateTime"
        )
        changed_at = record.timestamp(summary, changed_key, f"{SUMMARY}.{changed_key}")
        completed_at = record.timestamp(
            summary, "completedDateTime", f"{SUMMARY}.completedDateTime", required=False
        )
        self._check_custom_fields(record, summary)
        record.check()
        if changed_at is None:
            return []
        return [
            VendorRecord(
                record_type="contract",
                record=record,
                key=f"{envelope_id}:{event}:{summary[changed_key]}",
                occurred_at=changed_at,
                version=version_of(changed_at),
                external_id=envelope_id,
                payload=message,
                fixed={"external_id": envelope_id, "signed_at": iso(completed_at or changed_at)},
                fixed_sources={
                    "data.external_id": "data.envelopeId",
                    "data.signed_at": f"{SUMMARY}.completedDateTime",
                },
            )
        ]

    def _check_custom_fields(self, record: Record, summary: Mapping[str, Any]) -> None:
        """The custom fields' envelope: lists of objects with a name (their values are the
        mapping's)."""
        custom_fields = summary.get("customFields")
        if custom_fields is None:
            return
        if not isinstance(custom_fields, dict):
            record.error(CUSTOM, "Must be an object.")
            return
        for kind in ("textCustomFields", "listCustomFields"):
            items = custom_fields.get(kind)
            if items is None:
                continue
            if not isinstance(items, list):
                record.error(f"{CUSTOM}.{kind}", "Must be an array.")
                continue
            for index, item in enumerate(items):
                at = f"{CUSTOM}.{kind}[{index}]"
                if not isinstance(item, dict):
                    record.error(at, "Must be an object with name and value.")
                    continue
                record.text(item, "name", f"{at}.name")
