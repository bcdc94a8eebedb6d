"""What the vendor adapters share: exact JSON, field paths, dates and canonical events.

A vendor adapter reads the payload a system really sends, builds one canonical event
per record that matters to the tower, and has the canonical adapter validate it, so
that the flow and the business key come from the schema files like any other event.
The stored ``payload`` is the vendor's own record; ``normalized`` is the canonical event.

Rules every vendor adapter follows:

- The body is read with ``parse_float=Decimal``: no number goes through a float before
  it is mapped. Money becomes a decimal string (``"125000.50"``); integers such as a
  Salesforce ``commitNumber`` stay exact. In the stored payload a number a float cannot
  hold exactly is kept as a string (a JSON column cannot hold a ``Decimal``).
- A payload that does not fit raises ``EventRejected`` whose error keys are the
  vendor's own field paths (``[2].hours``, ``ChangeEventHeader.commitTimestamp``). A
  canonical-schema failure is mapped back to the vendor field it came from, or named
  ``normalized.<canonical path>`` when no single vendor field produced it.
- ``None`` and ``""`` count as absent: vendors send them for empty fields.
- A record that carries nothing for the tower is skipped, not refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings

from integrations.adapters.base import EventRejected, InboundEvent
from integrations.adapters.canonical import CanonicalAdapter
from integrations.signatures import SignatureError

# Vendor payloads are a few levels deep; anything deeper is refused before it is read,
# so that no later step (validation, the JSON column) recurses into it.
# Transaction.event_version is a 64-bit column.
MAX_VERSION = 2**63 - 1
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CENTS = Decimal("0.01")
REQUIRED = "This field is required."

CANONICAL = CanonicalAdapter()


class VendorSignatureError(SignatureError):
    """A ``SignatureError`` whose message names the vendor's own header."""

    def __init__(self, reason: str, message: str) -> None:
        Exception.__init__(self, message)
        self.reason = reason


def join(prefix: str, relative: str) -> str:
    """``join("[2]", "hours")`` is ``[2].hours``; ``join("", "hours")`` is ``hours``."""
    if not prefix:
        return relative
    if not relative:
        return prefix
    return prefix + relative if relative.startswith("[") else f"{prefix}.{relative}"


def root(prefix: str) -> str:
    return prefix or "(root)"


# --- reading the body ------------------------------------------------------------------


def plain(value: Any) -> Any:
    """``value`` with every ``Decimal`` made JSON-storable without losing digits."""
    if isinstance(value, Decimal):
        number = float(value)
        if number not in (float("inf"), float("-inf")) and Decimal(repr(number)) == value:
            return number
        return str(value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def money(value: Any) -> Any:
    """An amount as the schema's decimal string (``"1200.50"``); other values unchanged."""
    if isinstance(value, Decimal) and value.is_finite() and -20 < value.adjusted() < 16:
        if value.as_tuple().exponent < -2:  # type: ignore[operator]
            cents = value.quantize(CENTS)
            if cents == value:  # 1200.500 is 1200.50; 1200.505 stays and fails the pattern
                value = cents
        return format(value, "f")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**16:
        return str(value)
    return plain(value)


def number(value: Any) -> Any:
    """A quantity the schema wants as a JSON number (hours): a float, or the value as is."""
    if isinstance(value, Decimal):
        result = float(value)
        return result if result not in (float("inf"), float("-inf")) else str(value)
    return value


def present(value: Any) -> bool:
    return value is not None and value != ""


BILLING_MODELS = {
    "time_and_materials": "time_and_materials",
    "time_and_material": "time_and_materials",
    "time_materials": "time_and_materials",
    "t_and_m": "time_and_materials",
    "t_m": "time_and_materials",
    "tm": "time_and_materials",
    "fixed_fee": "fixed_fee",
    "fixed_price": "fixed_fee",
    "fixed": "fixed_fee",
    "retainer": "retainer",
    "milestone": "milestone",
    "milestones": "milestone",
    "milestone_based": "milestone",
}


def billing_model(value: Any) -> Any:
    """A picklist label (``"Time & Materials"``, ``"Fixed Fee"``) as the canonical value."""
    if not isinstance(value, str):
        return value
    key = re.sub(r"[^a-z0-9]+", "_", value.lower().replace("&", " and ")).strip("_")
    return BILLING_MODELS.get(key, value)


# --- reading one record ----------------------------------------------------------------


class Record:
    """One vendor record being read: where it sits in the body and what is wrong with it."""

    def __init__(self, value: Any, prefix: str) -> None:
        self.value = value
        self.prefix = prefix
        self.errors: dict[str, list[str]] = {}

    def path(self, relative: str) -> str:
        return join(self.prefix, relative)

    def error(self, relative: str, message: str) -> None:
        messages = self.errors.setdefault(self.path(relative) or "(root)", [])
        if message not in messages:
            messages.append(message)

    def check(self) -> None:
        if self.errors:
            raise EventRejected("The record does not fit.", errors=self.errors)

    # Each reader takes the container and the key, and the path of the value relative
    # to the record; it records an error and returns None when the value does not fit.

    def object(self, container: Mapping[str, Any], key: str, relative: str) -> dict | None:
        value = container.get(key)
        if not present(value):
            self.error(relative, REQUIRED)
            return None
        if not isinstance(value, dict):
            self.error(relative, "Must be an object.")
            return None
        return value

    def text(
        self, container: Mapping[str, Any], key: str, relative: str, *, required: bool = True
    ) -> str | None:
        value = container.get(key)
        if not present(value):
            if required:
                self.error(relative, REQUIRED)
            return None
        if not isinstance(value, str):
            self.error(relative, "Must be a string.")
            return None
        return value

    def identifier(self, container: Mapping[str, Any], key: str, relative: str) -> str | None:
        """An id sent as a string or as an integer (vendors do both)."""
        value = container.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return self.text(container, key, relative)

    def integer(
        self, container: Mapping[str, Any], key: str, relative: str, *, minimum: int = 0
    ) -> int | None:
        value = container.get(key)
        if value is None:
            self.error(relative, REQUIRED)
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            self.error(relative, "Must be an integer.")
            return None
        if not minimum <= value <= MAX_VERSION:
            self.error(relative, f"Must be an integer from {minimum} to {MAX_VERSION}.")
            return None
        return value

    def boolean(
        self, container: Mapping[str, Any], key: str, relative: str, *, required: bool = True
    ) -> bool | None:
        value = container.get(key)
        if value is None:
            if required:
                self.error(relative, REQUIRED)
            return None
        if not isinstance(value, bool):
            self.error(relative, "Must be true or false.")
            return None
        return value

    def timestamp(
        self, container: Mapping[str, Any], key: str, relative: str, *, required: bool = True
    ) -> datetime | None:
        """An ISO 8601 date-time with a time zone (``Z``, ``+00:00`` or ``+0000``), in UTC.

        Any number of fractional digits is read (DocuSign sends seven), and the moment
        must fall after 1970 so that it can serve as a version in epoch milliseconds.
        """
        text = self.text(container, key, relative, required=required)
        if text is None:
            return None
        try:
            parsed = datetime.fromisoformat(re.sub(r"[Zz]$", "+00:00", text))
            if parsed.tzinfo is None or "T" not in text.upper():
                raise ValueError
            moment = parsed.astimezone(UTC)
        except (ValueError, OverflowError):
            self.error(
                relative,
                "Must be an ISO 8601 date-time with a time zone, e.g. 2026-11-02T09:30:00Z.",
            )
            return None
        if moment <= EPOCH:
            self.error(relative, "Must be after 1970-01-01T00:00:00Z.")
            return None
        return moment

    def epoch_millis(
        self, container: Mapping[str, Any], key: str, relative: str
    ) -> datetime | None:
        millis = self.integer(container, key, relative, minimum=1)
        if millis is None:
            return None
        try:
            return EPOCH + timedelta(milliseconds=millis)
        except OverflowError:
            self.error(relative, "Must be epoch milliseconds before the year 10000.")
            return None


def version_of(moment: datetime) -> int:
    """A version that grows with each change: the modification time in epoch milliseconds."""
    return (moment - EPOCH) // timedelta(milliseconds=1)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# --- building events -------------------------------------------------------------------


def canonical_event(
    record: Record,
    *,
    normalized: dict[str, Any],
    sources: Mapping[str, str],
    payload: Any,
) -> InboundEvent:
    """The canonical event checked against its schema, carrying the vendor's record.

    ``sources`` maps canonical paths (``data.number``, ``version``) to the vendor field
    paths, relative to the record, that they were read from.
    """
    try:
        event = CANONICAL.validate_normalized(plain(normalized))
    except EventRejected as exc:
        errors: dict[str, list[str]] = {}
        for canonical_path, messages in exc.errors.items():
            source = sources.get(canonical_path)
            key = record.path(source) if source is not None else ""
            if not key:
                key = join(record.prefix, f"normalized.{canonical_path}")
            bucket = errors.setdefault(key, [])
            bucket.extend(message for message in messages if message not in bucket)
        raise EventRejected(exc.message, errors=errors) from None
    return replace(event, payload=plain(payload))


def read_records(
    records: list[tuple[str, Any]], read: Callable[[Record], list[InboundEvent]]
) -> list[InboundEvent]:
    """Reads every record, gathering the errors of all of them: a batch is all or nothing."""
    limit = settings.CT_INBOUND_MAX_EVENTS
    if len(records) > limit:
        raise EventRejected(
            f"A request holds at most {limit} records; this one holds {len(records)}.",
            errors={"(root)": [f"At most {limit} records per request."]},
        )
    events: list[InboundEvent] = []
    errors: dict[str, list[str]] = {}
    refused = 0
    for prefix, value in records:
        record = Record(value, prefix)
        try:
            events.extend(read(record))
        except EventRejected as exc:
            refused += 1
            for key, messages in exc.errors.items():
                bucket = errors.setdefault(key, [])
                bucket.extend(message for message in messages if message not in bucket)
    if errors:
        path, messages = next(iter(errors.items()))
        raise EventRejected(
            f"{refused} record(s) refused; first: {path}: {messages[0]}", errors=errors
        )
    if len(events) > limit:
        raise EventRejected(
            f"A request yields at most {limit} events; this one yields {len(events)}.",
            errors={"(root)": [f"At most {limit} events per request."]},
        )
    return events


def listed(document: Any, key: str | None = None) -> list[tuple[str, Any]]:
    """The records of a body: one object, a JSON array, or the array under ``key``."""
    if key is not None and isinstance(document, dict) and key in document:
        items = document[key]
        if not isinstance(items, list):
            raise EventRejected(
                f"{key}: must be a JSON array.", errors={key: ["Must be an array."]}
            )
        return [(f"{key}[{index}]", item) for index, item in enumerate(items)]
    if isinstance(document, list):
        return [(f"[{index}]", item) for index, item in enumerate(document)]
    return [("", document)]


def require_object(record: Record) -> dict[str, Any]:
    if not isinstance(record.value, dict):
        raise EventRejected(
            "Each record must be a JSON object.",
            errors={root(record.prefix): ["Must be an object."]},
        )
    return record.value
