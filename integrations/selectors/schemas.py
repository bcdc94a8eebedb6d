"""Reads of the canonical schema versions: what the tower reads (the registry) and which
versions each system still sends, and how often (from its transactions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Count, Max
from django.utils import timezone

from integrations.models import ConnectedSystem, Transaction
from integrations.schemas.registry import SchemaVersion, schema_versions
from integrations.schemas.upcast import UPCASTERS


@dataclass(frozen=True)
class VersionInfo:
    """One version of one event type, as the registry holds it."""

    event_type: str
    version: int
    current: bool
    deprecated_from: date | None
    upcast: bool  # read through an upcaster to the current version
    file_name: str
    schema: dict
    examples: list

    @property
    def deprecated(self) -> bool:
        return self.deprecated_from is not None


@dataclass(frozen=True)
class EventSchema:
    """An event type with every version of its schema, lowest first."""

    event_type: str
    flow: str
    business_key: str
    current_version: int
    versions: list[VersionInfo]


def _info(found: SchemaVersion, current: int) -> VersionInfo:
    return VersionInfo(
        event_type=found.event_type,
        version=found.version,
        current=found.version == current,
        deprecated_from=found.deprecated_from,
        upcast=(found.event_type, found.version) in UPCASTERS,
        file_name=found.file_name,
        schema=found.schema,
        examples=found.examples,
    )


def event_schema_list() -> list[EventSchema]:
    """Every event type the tower reads, with its versions."""
    listed = []
    for event_type, versions in sorted(schema_versions().items()):
        current = max(versions)
        schema = versions[current].schema
        listed.append(
            EventSchema(
                event_type=event_type,
                flow=schema["x-flow"],
                business_key=schema["x-business-key"],
                current_version=current,
                versions=[_info(found, current) for found in versions.values()],
            )
        )
    return listed


def event_schema_get(*, event_type: str) -> EventSchema | None:
    return next((item for item in event_schema_list() if item.event_type == event_type), None)


@dataclass(frozen=True)
class VersionUsage:
    """How many events of one type and schema version a system sent since ``since``."""

    event_type: str
    schema_version: int
    count: int
    last_received_at: datetime
    current: bool
    deprecated_from: date | None

    @property
    def deprecated(self) -> bool:
        return self.deprecated_from is not None


@dataclass(frozen=True)
class SchemaUsage:
    system: ConnectedSystem
    since: datetime
    days: int
    rows: list[VersionUsage]

    @property
    def deprecated_count(self) -> int:
        return sum(row.count for row in self.rows if row.deprecated)


def system_schema_usage(*, system: ConnectedSystem, now: datetime | None = None) -> SchemaUsage:
    """The schema versions ``system`` sent over the last ``CT_SCHEMA_USAGE_DAYS`` days, per
    event type: one grouped query over its transactions of the window (a replay is not
    counted: it was not sent)."""
    days = settings.CT_SCHEMA_USAGE_DAYS
    since = (now or timezone.now()) - timedelta(days=days)
    registry = schema_versions()
    rows = []
    for found in (
        Transaction.objects.filter(
            source_system=system, received_at__gte=since, schema_version__isnull=False
        )
        .values("event_type", "schema_version")
        .annotate(count=Count("*"), last_received_at=Max("received_at"))
        .order_by("event_type", "schema_version")
    ):
        versions = registry.get(found["event_type"], {})
        known = versions.get(found["schema_version"])
        rows.append(
            VersionUsage(
                event_type=found["event_type"],
                schema_version=found["schema_version"],
                count=found["count"],
                last_received_at=found["last_received_at"],
                current=bool(versions) and found["schema_version"] == max(versions),
                deprecated_from=known.deprecated_from if known else None,
            )
        )
    return SchemaUsage(system=system, since=since, days=days, rows=rows)
