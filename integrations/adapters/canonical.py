"""The tower's own dialect.

``{"type": "<entity>.<event>", "id": "<event id>", "occurred_at": "<ISO 8601>",
"version": <int>, "schema_version": <int, optional>, "data": {...}}``, one event or a JSON
array of them. Each type has a JSON Schema file per version in
``integrations/schemas/canonical/`` (``<type>.json``, then ``<type>.v2.json``...; see
``integrations.schemas.registry``) naming its flow (``x-flow``) and the data field that is
its business key (``x-business-key``). An event is checked against the version it names
(1 when it names none), then upcast to the current one, which is what the flows read.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import fastjsonschema
from django.conf import settings
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from integrations import signatures
from integrations.adapters.base import EventRejected, InboundEvent
from integrations.adapters.jsonbody import load
from integrations.schemas.registry import (
    ENVELOPE,
    FIRST_VERSION,
    SchemaVersion,
    envelope,
    schema_versions,
)
from integrations.schemas.upcast import event_upcast

if TYPE_CHECKING:
    from integrations.models import ConnectedSystem


def _field_path(prefix: str, error: ValidationError) -> str:
    parts = list(error.absolute_path)
    # "'currency' is a required property" is reported on the parent: name the field.
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        if missing:
            parts.append(missing)
    path = prefix
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(root)"


def _message(error: ValidationError) -> str:
    if error.validator == "required":
        return "This field is required."
    if error.validator == "const":
        return f"Must be {error.validator_value!r}."
    return error.message


def errors_of(validator: Draft202012Validator, instance: Any, prefix: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for error in sorted(
        validator.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path]
    ):
        messages = errors.setdefault(_field_path(prefix, error), [])
        if _message(error) not in messages:
            messages.append(_message(error))
    return errors


def parse_iso8601(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("no time zone")
    return parsed


class CanonicalAdapter:
    name = "canonical"

    @cached_property
    def _versions(self) -> dict[str, dict[int, SchemaVersion]]:
        return schema_versions()

    @cached_property
    def _schemas(self) -> dict[str, dict[str, Any]]:
        """Each type's current schema: what the flows read."""
        return {
            event_type: versions[max(versions)].schema
            for event_type, versions in self._versions.items()
        }

    @cached_property
    def _registry(self) -> Registry:
        return Registry().with_resource(ENVELOPE, Resource.from_contents(envelope()))

    @cached_property
    def _envelope_validator(self) -> Draft202012Validator:
        return Draft202012Validator(envelope())

    @cached_property
    def _validators(self) -> dict[tuple[str, int], Draft202012Validator]:
        return {
            # The format checker refuses impossible dates such as 2026-13-01.
            (event_type, version): Draft202012Validator(
                found.schema,
                registry=self._registry,
                format_checker=Draft202012Validator.FORMAT_CHECKER,
            )
            for event_type, versions in self._versions.items()
            for version, found in versions.items()
        }

    @cached_property
    def _fast_checks(self) -> dict[tuple[str, int], Any]:
        """Compiled checks (fastjsonschema) for the common case: a valid event costs a few
        microseconds; jsonschema only runs to name the faults of an invalid one."""
        inlined_envelope = copy.deepcopy(envelope())
        inlined_envelope.pop("$id", None)
        inlined_envelope.pop("$schema", None)
        formats = {"date": lambda v: Draft202012Validator.FORMAT_CHECKER.conforms(v, "date")}
        checks = {}
        for event_type, versions in self._versions.items():
            for version, found in versions.items():
                inlined = copy.deepcopy(found.schema)
                inlined.pop("$schema", None)
                inlined["allOf"] = [
                    inlined_envelope if part == {"$ref": ENVELOPE} else part
                    for part in inlined.get("allOf", [])
                ]
                try:
                    checks[event_type, version] = fastjsonschema.compile(inlined, formats=formats)
                except fastjsonschema.JsonSchemaDefinitionException:  # keeps the full check
                    continue
        return checks

    def _valid(self, key: tuple[Any, Any], item: Any) -> bool:
        check = self._fast_checks.get(key) if isinstance(key[0], str) else None
        if check is None:
            return False
        try:
            check(item)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    def _upcast(self, item: dict[str, Any], *, event_type: str, arrived: int, prefix: str) -> dict:
        """The event as its type's current version (``integrations.schemas.upcast``), checked
        against it: a fault here is the upcaster's, and says so."""
        current = max(self._versions[event_type])
        normalized = event_upcast(
            event=item, event_type=event_type, version=arrived, current=current
        )
        if normalized is item or self._valid((event_type, current), normalized):
            return normalized
        errors = errors_of(self._validators[event_type, current], normalized, prefix)
        raise EventRejected(
            f"The event fits {event_type} v{arrived} but not once upcast to v{current}.",
            errors={
                path: [f"After upcasting: {m}" for m in messages]
                for path, messages in errors.items()
            },
        )

    @property
    def event_types(self) -> list[str]:
        return sorted(self._schemas)

    def schema(self, event_type: str) -> dict[str, Any]:
        return self._schemas[event_type]

    def verify(self, *, system: ConnectedSystem, headers: Mapping[str, str], body: bytes) -> None:
        signatures.verify(
            headers.get(signatures.HEADER),
            body,
            system.inbound_secrets(),
            tolerance_seconds=settings.CT_SIGNATURE_TOLERANCE_SECONDS,
        )

    def parse(self, *, body: bytes, mappings: Any = None) -> list[InboundEvent]:
        document = load(body, exact=False)
        if isinstance(document, list):
            if not document:
                raise EventRejected(
                    "The batch is empty.", errors={"(root)": ["Send 1 to n events."]}
                )
            limit = settings.CT_INBOUND_MAX_EVENTS
            if len(document) > limit:
                raise EventRejected(
                    f"A batch holds at most {limit} events; this one holds {len(document)}.",
                    errors={"(root)": [f"At most {limit} events per request."]},
                )
            items = [(f"[{index}]", item) for index, item in enumerate(document)]
        else:
            items = [("", document)]
        events: list[InboundEvent] = []
        errors: dict[str, list[str]] = {}
        for prefix, item in items:
            try:
                events.append(self._read(item, prefix))
            except EventRejected as exc:
                errors.update(exc.errors)
        if errors:
            path, messages = next(iter(errors.items()))
            count = len({key.split("]")[0] for key in errors}) if len(items) > 1 else 1
            raise EventRejected(
                f"{count} event(s) refused; first: {path}: {messages[0]}", errors=errors
            )
        return events

    def validate_normalized(self, normalized: Any) -> InboundEvent:
        return self._read(normalized, "")

    def _read(self, item: Any, prefix: str) -> InboundEvent:
        event_type = item.get("type") if isinstance(item, dict) else None
        versions = self._versions.get(event_type) if isinstance(event_type, str) else None
        arrived = item.get("schema_version", FIRST_VERSION) if versions else None
        key = (event_type, arrived)
        # A bool is no version (True == 1 in a look-up): the envelope check names it.
        known = versions is not None and type(arrived) is int and arrived in versions
        validator = self._validators[key] if known else None
        # A known type's schema includes the envelope, so one pass names every fault.
        errors = (
            {}
            if known and self._valid(key, item)
            else errors_of(validator or self._envelope_validator, item, prefix)
        )
        if errors:
            raise EventRejected("The event does not fit its schema.", errors=errors)
        if versions is None:
            known_types = ", ".join(self.event_types)
            raise EventRejected(
                "Unknown event type.",
                errors={
                    f"{prefix}.type" if prefix else "type": [
                        f"Unknown event type {event_type!r}; known types: {known_types}."
                    ]
                },
            )
        if validator is None:
            listed = ", ".join(str(version) for version in versions)
            raise EventRejected(
                "Unknown schema version.",
                errors={
                    f"{prefix}.schema_version" if prefix else "schema_version": [
                        f"{event_type} has schema versions {listed}; not {arrived!r}."
                    ]
                },
            )
        normalized = self._upcast(item, event_type=event_type, arrived=arrived, prefix=prefix)
        try:
            occurred_at = parse_iso8601(item["occurred_at"])
        except ValueError:
            raise EventRejected(
                "occurred_at is not an ISO 8601 date-time with a time zone.",
                errors={
                    f"{prefix}.occurred_at" if prefix else "occurred_at": [
                        "Must be an ISO 8601 date-time with a time zone, e.g. 2026-11-02T09:30:00Z."
                    ]
                },
            ) from None
        schema = self._schemas[event_type]
        data = normalized["data"]
        return InboundEvent(
            event_type=event_type,
            flow_kind=schema["x-flow"],
            idempotency_key=item["id"],
            business_key=str(data[schema["x-business-key"]]),
            version=item.get("version"),
            occurred_at=occurred_at,
            payload=item,
            normalized=normalized,
            schema_version=arrived,
            external_id=str(data.get("external_id", "")),
            correlation_id=str(item.get("correlation_id", "")),
        )
