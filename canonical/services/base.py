"""What every canonical write shares: versioned upserts, business keys, and the refusal of
a record that is missing or not active."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from django.db import IntegrityError, models, transaction

from canonical.choices import (
    RuleCode,
)
from canonical.errors import RuleViolation

M = TypeVar("M", bound=models.Model)

UpsertOutcome = Literal["applied", "unchanged", "stale"]


@dataclass(frozen=True)
class UpsertResult:
    record: models.Model
    outcome: UpsertOutcome
    created: bool


def business_key(value: str) -> str:
    return value.strip().upper()


def rows_update(model: type[M], rows: list[M], fields: list[str]) -> None:
    """``bulk_update`` in one statement whatever the number of rows: an upsert on the
    primary key that only ever meets rows that exist (``INSERT ... ON CONFLICT (id) DO
    UPDATE SET`` the ``fields``). ``bulk_update`` writes a ``CASE`` per field with a
    branch per row, whose building and matching grow with the square of the rows.

    The rows must be whole (read or created in full) and exist; their ``auto_now`` fields
    are stamped as on any save, and the database keeps its own ``created_at``."""
    if rows:
        model.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["pk"], update_fields=fields
        )


def locked(model: type[M], lookup: dict[str, Any]) -> M | None:
    return model.objects.select_for_update().filter(**lookup).first()


def upsert(
    model: type[M],
    *,
    lookup: dict[str, Any],
    version: int,
    source_system: str,
    values: Callable[[], dict[str, Any]],
) -> UpsertResult:
    """Creates or updates the row found by ``lookup``; ``values`` is only called to write."""
    with transaction.atomic():
        for attempt in range(2):
            record = locked(model, lookup)
            if record is None:
                try:
                    with transaction.atomic():
                        record = model.objects.create(
                            **lookup, **values(), version=version, source_system=source_system
                        )
                except IntegrityError:
                    # Another transaction created the same key since we looked: read it again.
                    if attempt:
                        raise
                    continue
                return UpsertResult(record=record, outcome="applied", created=True)
            if version < record.version:
                return UpsertResult(record=record, outcome="stale", created=False)
            if version == record.version:
                return UpsertResult(record=record, outcome="unchanged", created=False)
            for field, value in values().items():
                setattr(record, field, value)
            record.version = version
            record.source_system = source_system
            record.save()
            return UpsertResult(record=record, outcome="applied", created=False)
    raise AssertionError("unreachable")  # pragma: no cover


def record_required(
    record: M | None, *, kind: str, key: str, label: str, code: RuleCode, active: bool = True
) -> M:
    """``record``, or a RuleViolation ``code`` that waits for ``kind:key`` to arrive (or turn active)."""
    if record is None or not active:
        raise RuleViolation(
            message=f"{label} '{key}' "
            + ("does not exist." if record is None else "is not active."),
            code=code,
            details={kind: key},
            waiting_on=f"{kind}:{key}",
        )
    return record
