"""DocuSign Connect: ``envelope-completed`` in the JSON SIM event model, terms in custom fields.

The Connect configuration sends JSON SIM messages (one event per request) with the
envelope summary and its custom fields included, and HMAC signing on:

``{"event": "envelope-completed", "apiVersion": "v2.1", "uri": ..., "retryCount": 0,
"configurationId": ..., "generatedDateTime": "2026-11-02T09:30:05.1234567Z",
"data": {"accountId": ..., "userId": ..., "envelopeId": ..., "envelopeSummary":
{"status": "completed", "emailSubject": ..., "statusChangedDateTime": ...,
"completedDateTime": ..., "customFields": {"textCustomFields": [{"name", "value"}, ...],
"listCustomFields": [...]}, ...}}}``

One message or a JSON array of them is read. Only ``envelope-completed`` becomes
``contract.signed``; every other event (``envelope-sent``, ``recipient-completed``, ...)
is skipped. DocuSign's date-times carry seven fractional digits; they are read.

Envelope custom fields (text or list; names mirror the Salesforce custom fields):

=====================  ===========================  =================================
DocuSign               canonical ``data`` field     note
=====================  ===========================  =================================
``Contract_Number``    ``number``                   business key
``Customer_Number``    ``customer``
``Legal_Entity``       ``legal_entity``             company code, e.g. ``US01``
``Currency``           ``currency``                 ISO 4217
``Billing_Model``      ``billing_model``            Time & Materials, Fixed Fee, ...
``Start_Date``         ``start_date``               YYYY-MM-DD
``End_Date``           ``end_date``                 optional
``Rate_Card``          ``rate_card``                optional
``Cap_Amount``         ``cap_amount``               optional, e.g. ``250000.00``
``Project_Code``       ``project.code``
``Project_Name``       ``project.name``             else the envelope's ``emailSubject``
``envelopeId``         ``external_id``
``completedDateTime``  ``signed_at``                else ``statusChangedDateTime``
=====================  ===========================  =================================

An error on a custom field is named by its place, ``data.envelopeSummary.customFields.
textCustomFields[3].value``, or, when it is missing, ``...textCustomFields[name=Contract_Number]``.

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

from integrations.adapters.base import InboundEvent
from integrations.adapters.jsonbody import load
from integrations.adapters.vendor import (
    CANONICAL,
    Record,
    VendorSignatureError,
    billing_model,
    canonical_event,
    iso,
    listed,
    money,
    present,
    read_records,
    require_object,
    version_of,
)

if TYPE_CHECKING:
    from integrations.models import ConnectedSystem

HEADER = re.compile(r"^x-docusign-signature-(\d+)$", re.IGNORECASE)
COMPLETED = "envelope-completed"
SUMMARY = "data.envelopeSummary"
CUSTOM = f"{SUMMARY}.customFields"

# canonical data path -> envelope custom field name, with its converter
TERMS: dict[str, tuple[str, Any]] = {
    "data.number": ("Contract_Number", None),
    "data.customer": ("Customer_Number", None),
    "data.legal_entity": ("Legal_Entity", None),
    "data.currency": ("Currency", None),
    "data.billing_model": ("Billing_Model", billing_model),
    "data.start_date": ("Start_Date", None),
    "data.end_date": ("End_Date", None),
    "data.rate_card": ("Rate_Card", None),
    "data.cap_amount": ("Cap_Amount", money),
    "data.project.code": ("Project_Code", None),
}
PROJECT_NAME = "Project_Name"


def _signature_error(reason: str) -> VendorSignatureError:
    messages = {
        "missing": "No X-DocuSign-Signature-<n> header was sent.",
        "malformed": "The X-DocuSign-Signature-<n> headers are not base64 HMAC-SHA256 values.",
        "mismatch": "No X-DocuSign-Signature-<n> header matches the body.",
        "no_secret": "No inbound HMAC key is configured for this system.",
    }
    return VendorSignatureError(reason, messages[reason])


class DocuSignAdapter:
    name = "docusign"

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

    def parse(self, *, body: bytes) -> list[InboundEvent]:
        return read_records(listed(load(body)), self._read)

    def validate_normalized(self, normalized: Any) -> InboundEvent:
        return CANONICAL.validate_normalized(normalized)

    def _read(self, record: Record) -> list[InboundEvent]:
        message = require_object(record)
        event = record.text(message, "event", "event")
        record.check()
        if event != COMPLETED:
            return []  # sent, delivered, declined, recipient events: nothing is signed yet
        data = record.object(message, "data", "data")
        envelope_id = (
            record.text(data, "envelopeId", "data.envelopeId") if data is not None else None
        )
        record.check()
        if data is None or envelope_id is None:
            return []
        summary = record.object(data, "envelopeSummary", SUMMARY)
        if summary is None:
            record.check()
            return []
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
        fields = self._custom_fields(record, summary)
        record.check()
        if changed_at is None:
            return []
        terms: dict[str, Any] = {"project": {}}
        sources = {
            "id": f"{SUMMARY}.{changed_key}",
            "version": f"{SUMMARY}.{changed_key}",
            "occurred_at": f"{SUMMARY}.{changed_key}",
            "data.external_id": "data.envelopeId",
            "data.signed_at": f"{SUMMARY}.completedDateTime",
        }
        for canonical_path, (name, convert) in TERMS.items():
            value, sources[canonical_path] = fields.get(name, (None, _missing(name)))
            if present(value):
                target = terms["project"] if canonical_path.startswith("data.project.") else terms
                target[canonical_path.rsplit(".", 1)[1]] = convert(value) if convert else value
        project_name, sources["data.project.name"] = fields.get(
            PROJECT_NAME, (summary.get("emailSubject"), f"{SUMMARY}.emailSubject")
        )
        if present(project_name):
            terms["project"]["name"] = project_name
        sources["data.project"] = sources["data.project.code"]
        terms["signed_at"] = iso(completed_at or changed_at)
        terms["external_id"] = envelope_id
        normalized = {
            "type": "contract.signed",
            "id": f"{envelope_id}:{event}:{summary[changed_key]}",
            "occurred_at": iso(changed_at),
            "version": version_of(changed_at),
            "data": terms,
        }
        return [canonical_event(record, normalized=normalized, sources=sources, payload=message)]

    def _custom_fields(
        self, record: Record, summary: Mapping[str, Any]
    ) -> dict[str, tuple[Any, str]]:
        """Envelope custom fields by name: (value, path of the value)."""
        fields: dict[str, tuple[Any, str]] = {}
        custom = summary.get("customFields")
        if custom is None:
            return fields
        if not isinstance(custom, dict):
            record.error(CUSTOM, "Must be an object.")
            return fields
        for kind in ("textCustomFields", "listCustomFields"):
            items = custom.get(kind)
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
                name = record.text(item, "name", f"{at}.name")
                if name is not None and name not in fields:
                    fields[name] = (item.get("value"), f"{at}.value")
        return fields


def _missing(name: str) -> str:
    return f"{CUSTOM}.textCustomFields[name={name}]"
