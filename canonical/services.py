"""Writes to the canonical records.

An upsert applies an incoming record only when it carries a newer version than
the one held: an older one is ``stale`` and the same one ``unchanged``, and
neither writes anything. Callers run these inside their own ``transaction.atomic()``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from django.db import IntegrityError, models, transaction

from canonical.errors import RuleViolation
from canonical.models import Customer, LegalEntity

M = TypeVar("M", bound=models.Model)

UpsertOutcome = Literal["applied", "unchanged", "stale"]


@dataclass(frozen=True)
class UpsertResult:
    record: models.Model
    outcome: UpsertOutcome
    created: bool


def _key(value: str) -> str:
    return value.strip().upper()


def _locked(model: type[M], lookup: dict[str, Any]) -> M | None:
    return model.objects.select_for_update().filter(**lookup).first()


def _upsert(
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
            record = _locked(model, lookup)
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


def legal_entity_upsert(
    *,
    code: str,
    name: str,
    country: str,
    currency: str,
    version: int,
    source_system: str,
    active: bool = True,
) -> UpsertResult:
    return _upsert(
        LegalEntity,
        lookup={"code": _key(code)},
        version=version,
        source_system=source_system,
        values=lambda: {
            "name": name.strip(),
            "country": _key(country),
            "currency": _key(currency),
            "active": active,
        },
    )


def customer_upsert(
    *,
    number: str,
    name: str,
    legal_entity_code: str,
    currency: str,
    version: int,
    source_system: str,
    active: bool = True,
) -> UpsertResult:
    def values() -> dict[str, Any]:
        return {
            "name": name.strip(),
            "legal_entity": _active_legal_entity(code=_key(legal_entity_code)),
            "currency": _key(currency),
            "active": active,
        }

    return _upsert(
        Customer,
        lookup={"number": _key(number)},
        version=version,
        source_system=source_system,
        values=values,
    )


def _active_legal_entity(*, code: str) -> LegalEntity:
    legal_entity = LegalEntity.objects.filter(code=code).first()
    if legal_entity is None:
        message = f"Legal entity '{code}' does not exist."
    elif not legal_entity.active:
        message = f"Legal entity '{code}' is not active."
    else:
        return legal_entity
    raise RuleViolation(
        message=message,
        code="invalid_legal_entity",
        details={"legal_entity": code},
        waiting_on=f"legal_entity:{code}",
    )
