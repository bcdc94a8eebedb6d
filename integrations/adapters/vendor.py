"""What the vendor adapters share: exact JSON, field paths, dates and canonical events.

A vendor adapter reads the *envelope* of the payload a system really sends (which
records it holds, each one's id, change time and version, the kind of event) and a
*mapping* (``integrations.adapters.mapping``) reads the business values: the system's
own, published by an admin, or the dialect's default. Each record becomes one canonical
event checked against its schema, so that the flow and the business key come from the
schema files like any other event. The stored ``payload`` is the vendor's own record;
``normalized`` is the canonical event.

Rules every vendor adapter follows:

- The body is read with ``parse_float=Decimal``: no number goes through a float before
  it is mapped. Money becomes a decimal string (``"125000.50"``); integers such as a
  Salesforce ``commitNumber`` stay exact. In the stored payload a number a float cannot
  hold exactly is kept as a string (a JSON column cannot hold a ``Decimal``).
- Only a payload that breaks the vendor's own envelope is refused (400), with
  ``EventRejected`` whose error keys are the vendor's field paths (``[2].updated_at``,
  ``ChangeEventHeader.commitTimestamp``).
- A well-formed record whose business values the mapping cannot give (no contract
  number, a date that is not one) is accepted with those faults by vendor path
  (``unmapped``): the transaction is parked as a fixable exception, and runs again when
  the mapping is published or the data replayed.
- A record that carries nothing for the tower (an ``envelope-sent``, a stage other
  than Closed Won) is *ignored*: stored with the rule that ignored it, never dropped.
- ``None`` and ``""`` count as absent: vendors send them for empty fields.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings

from integrations.adapters.base import EventRejected, InboundEvent
from integrations.adapters.canonical import CanonicalAdapter
from integrations.adapters.jsonbody import load
from integrations.adapters.mapping import FieldMap, mapping_apply, mapping_read
from integrations.signatures import SignatureError

if TYPE_CHECKING:
    from integrations.models import ConnectedSystem

# Vendor payloads are a few levels deep; anything deeper is refused before it is read,
# so that no later step (validation, the JSON column) recurses into it.
# Transaction.event_version is a 64-bit column.
MAX_VERSION = 2**63 - 1
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
REQUIRED = "This field is required."
MAX_KEY = 200  # Transaction.idempotency_key

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


def present(value: Any) -> bool:
    return value is not None and value != ""


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

# The canonical event each record type becomes.
RECORD_EVENTS = {
    "contract": "contract.signed",
    "time_entry": "time_entry.approved",
    "resource": "resource.upserted",
}


@dataclass
class VendorRecord:
    """One record as the vendor's envelope gives it: its identity, time and version, and
    what the mapping reads (``root``, the payload unless a message wraps the record).

    ``fixed``: canonical fields the envelope itself gives (the external id, the signing
    time), with ``fixed_sources`` their vendor paths relative to the record. ``changed``:
    the fields a change touched, when the vendor says (an update touching no mapped field
    is ignored). ``ignored``: a rule of the adapter that ignores it (an ``envelope-sent``).
    ``fetch``: the vendor's id of a record the event only names (a thin event, without
    its values): the record is read from the vendor's API when the event runs
    (``VendorAdapter.fetch_request`` and ``fetch_merge``), then mapped. ``fetch_lacking``:
    the same, but only when the event lacks a value the mapping reads (a change event
    carrying the changed fields only); ``nulled``: the fields the event says were emptied,
    whose absence is a value.
    """

    record_type: str
    record: Record
    key: str
    occurred_at: datetime
    version: int
    external_id: str
    payload: Any
    root: Any = None
    root_path: str = ""
    fixed: dict[str, Any] = field(default_factory=dict)
    fixed_sources: dict[str, str] = field(default_factory=dict)
    changed: list[str] | None = None
    ignored: str = ""
    fetch: str = ""
    fetch_lacking: str = ""
    nulled: frozenset[str] = frozenset()


@dataclass(frozen=True)
class FetchRequest:
    """The call that reads a thin event's record from the vendor's API: a GET of ``path``
    on the system's base URL, with ``params``."""

    path: str
    params: dict[str, str] = field(default_factory=dict)


MappingsFor = Callable[[str], FieldMap]


def ignored_record(
    record: Record,
    *,
    record_type: str,
    reason: str,
    parts: list[Any],
    moment: Any = None,
    external_id: Any = None,
) -> VendorRecord:
    """A record an adapter's rule ignores, read leniently: its key from ``parts`` (the
    vendor's id and change time, as for a taken record), else a digest of the record, so
    that the same delivery again is a duplicate."""
    key = ":".join(str(part) for part in parts if present(part))
    if not parts or not all(present(part) for part in parts):
        digest = hashlib.sha256(
            json.dumps(plain(record.value), sort_keys=True, default=str).encode()
        ).hexdigest()
        key = f"ignored:{digest[:40]}"
    when = _lenient_time(moment)
    return VendorRecord(
        record_type=record_type,
        record=record,
        key=key,
        occurred_at=when,
        version=version_of(when),
        external_id=str(external_id)[:100] if present(external_id) else "",
        payload=record.value,
        ignored=reason,
    )


def _lenient_time(value: Any) -> datetime:
    """A vendor time if it reads as one, else now (an ignored record's time is only shown)."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(re.sub(r"[Zz]$", "+00:00", value.strip()))
            if moment.tzinfo is not None and moment > EPOCH:
                return moment.astimezone(UTC)
        except (ValueError, OverflowError):
            pass
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 253402300799000:
        return EPOCH + timedelta(milliseconds=value)
    return datetime.now(UTC)


class VendorAdapter:
    """What every vendor adapter does with the records its envelope reader finds: map them
    (the system's mapping, else the dialect's default), check the canonical event, and
    say which are ignored and which lack a business value.

    A subclass names its ``record_types`` with their default mapping documents, the key
    of the list its body may hold (``list_key``), and reads one record (``read``).
    """

    name = ""
    list_key: str | None = None
    defaults: dict[str, dict[str, Any]] = {}
    # A system that names records by its own ids (Harvest users and projects): the prefix of
    # its cross-references, resolved through the records' sync states in it.
    ref_prefix = ""
    ref_kinds: tuple[str, ...] = ()  # the kinds of record it names by its ids, by data field
    # A harmless read of the vendor's API (a path on the system's base URL), for the
    # connection test of a system the tower calls to read thin events' records.
    probe_path = ""

    def verify(self, *, system: ConnectedSystem, headers: Mapping[str, str], body: bytes) -> None:
        CANONICAL.verify(system=system, headers=headers, body=body)

    def validate_normalized(self, normalized: Any) -> InboundEvent:
        return CANONICAL.validate_normalized(normalized)

    def records(self, document: Any) -> list[tuple[str, Any]]:
        return listed(document, self.list_key)

    # A dialect with thin events (ids only) says how to read their record and keep it.

    def fetch_request(self, record_id: str) -> FetchRequest:
        """The call that reads the record ``record_id`` of a thin event."""
        raise NotImplementedError(f"{self.name} sends no thin events.")

    def fetch_merge(self, payload: Any, fetched: Any) -> Any:
        """The stored payload of a thin event with the record read for it: what ``read``
        then maps, and what the diff and the audit show."""
        raise NotImplementedError(f"{self.name} sends no thin events.")

    def read(self, record: Record) -> list[VendorRecord]:
        raise NotImplementedError

    @property
    def record_types(self) -> list[str]:
        return list(self.defaults)

    def default_mapping(self, record_type: str) -> FieldMap:
        return default_mapping_of(self, record_type)

    def parse(self, *, body: bytes, mappings: MappingsFor | None = None) -> list[InboundEvent]:
        found = read_records(self.records(load(body)), self.read)
        return [self.event(item, mappings or self.default_mapping) for item in found]

    def remap(
        self, *, payload: Any, key: str | None, mappings: MappingsFor | None = None
    ) -> InboundEvent:
        """The event ``key`` of a stored payload, mapped again (after a mapping changed, or
        a thin event's record was read); a replay has no key: its payload's one event."""
        document = json.loads(json.dumps(payload), parse_float=Decimal)
        found = read_records([("", document)], self.read)
        for item in found:
            if item.key == key or (key is None and len(found) == 1):
                return self.event(item, mappings or self.default_mapping)
        raise EventRejected(
            f"The stored payload holds no event {key!r}.", errors={"(payload)": [key]}
        )

    def event(self, item: VendorRecord, mappings: MappingsFor) -> InboundEvent:
        if len(item.key) > MAX_KEY:
            raise EventRejected(
                f"The record's id and change time make a key of {len(item.key)} characters.",
                errors={root(item.record.prefix): [f"At most {MAX_KEY} characters of id."]},
            )
        event_type = RECORD_EVENTS[item.record_type]
        schema = CANONICAL.schema(event_type)
        record_root = item.payload if item.root is None else item.root
        head = {
            "type": event_type,
            "id": item.key,
            "occurred_at": iso(item.occurred_at),
            "version": item.version,
        }
        common = {
            "event_type": event_type,
            "flow_kind": schema["x-flow"],
            "idempotency_key": item.key,
            "version": item.version,
            "occurred_at": item.occurred_at,
            "payload": plain(item.payload),
            "external_id": item.external_id,
            "extra": {"record_type": item.record_type},
        }
        mapping = mappings(item.record_type)
        ignored = item.ignored
        if not ignored and item.changed is not None:
            touched = set(item.changed) & mapping.source_keys()
            if not touched:
                shown = ", ".join(item.changed) or "no field"
                ignored = f"An update of {shown}: the mapping reads none of them."
        fetch = item.fetch
        if not ignored and not fetch and item.fetch_lacking:
            if mapping.lacks(record_root, known=item.nulled):
                fetch = item.fetch_lacking
        if not ignored and not fetch and not mapping.taken(record_root):
            ignored = mapping.why_ignored(record_root)
        if ignored or fetch:
            # Ignored, or nothing to map yet: the record is read when the event runs.
            return InboundEvent(
                **common,
                business_key=item.external_id or item.key[:100],
                normalized={**head, "data": plain(item.fixed)},
                ignored=ignored,
                fetch="" if ignored else fetch,
            )
        applied = mapping_apply(
            mapping,
            record_root,
            prefix=join(item.record.prefix, item.root_path),
            ref_prefix=self.ref_prefix,
        )
        normalized = plain({**head, "data": {**applied.data, **item.fixed}})
        sources = {
            **applied.sources,
            **{name: item.record.path(path) for name, path in item.fixed_sources.items()},
        }
        errors = {path: list(messages) for path, messages in applied.errors.items()}
        try:
            event = CANONICAL.validate_normalized(normalized)
        except EventRejected as exc:
            for canonical_path, messages in exc.errors.items():
                bucket = errors.setdefault(_source_of(canonical_path, sources), [])
                bucket.extend(message for message in messages if message not in bucket)
        else:
            if not errors:
                return replace(event, payload=plain(item.payload), extra=common["extra"])
        key = normalized["data"].get(schema["x-business-key"])
        return InboundEvent(
            **common,
            business_key=str(key) if present(key) else item.external_id,
            normalized=normalized,
            unmapped=errors,
        )


def _source_of(canonical_path: str, sources: Mapping[str, str]) -> str:
    """The vendor path a canonical field came from (``data.project`` from the first of its
    parts), else the canonical path itself."""
    if canonical_path in sources:
        return sources[canonical_path]
    for name, path in sources.items():
        if name.startswith(canonical_path + "."):
            return path
    return f"normalized.{canonical_path}"


_defaults: dict[tuple[str, str], FieldMap] = {}


def default_mapping_of(adapter: VendorAdapter, record_type: str) -> FieldMap:
    """The dialect's default mapping of ``record_type``, checked once per process."""
    key = (adapter.name, record_type)
    if key not in _defaults:
        _defaults[key] = mapping_read(
            adapter.defaults[record_type], fields=canonical_fields(record_type)
        )
    return _defaults[key]


def canonical_fields(record_type: str) -> dict[str, dict[str, Any]]:
    """The ``data`` fields of the record type's canonical event (``project.code`` for a
    nested one), with their schemas: what a mapping may fill."""
    schema = CANONICAL.schema(RECORD_EVENTS[record_type])
    data = schema["properties"]["data"]
    fields: dict[str, dict[str, Any]] = {}
    for name, spec in data.get("properties", {}).items():
        if spec.get("type") == "object" and "properties" in spec:
            for inner, inner_spec in spec["properties"].items():
                fields[f"{name}.{inner}"] = inner_spec
        else:
            fields[name] = spec
    return fields


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
