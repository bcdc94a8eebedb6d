"""Writes to the canonical records.

An upsert applies an incoming record only when it carries a newer version than
the one held: an older one is ``stale`` and the same one ``unchanged``, and
neither writes anything. Callers run these inside their own ``transaction.atomic()``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, models, transaction

from canonical.choices import BillingModel, ContractStatus, ProjectStatus
from canonical.errors import RuleViolation
from canonical.models import (
    BillingMilestone,
    Contract,
    ContractVersion,
    Customer,
    LegalEntity,
    Project,
    RateCard,
    RateCardLine,
    Resource,
)

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


def _customer_for(*, number: str) -> Customer:
    customer = Customer.objects.filter(number=_key(number)).first()
    if customer is None:
        raise RuleViolation(
            message=f"Customer '{_key(number)}' does not exist.",
            code="unknown_customer",
            details={"customer": _key(number)},
            waiting_on=f"customer:{_key(number)}",
        )
    return customer


def _rate_card_for(*, code: str) -> RateCard:
    rate_card = RateCard.objects.filter(code=_key(code)).first()
    if rate_card is None:
        raise RuleViolation(
            message=f"Rate card '{_key(code)}' does not exist.",
            code="missing_rate_card",
            details={"rate_card": _key(code)},
            waiting_on=f"rate_card:{_key(code)}",
        )
    return rate_card


@dataclass(frozen=True)
class ContractTerms:
    """A contract's terms as signed or amended: what a ContractVersion keeps."""

    number: str
    customer: str
    legal_entity: str
    currency: str
    billing_model: str
    start_date: date
    end_date: date | None = None
    rate_card: str = ""
    rates: dict[str, Decimal] = field(default_factory=dict)
    cap_amount: Decimal | None = None
    milestones: tuple[dict[str, Any], ...] = ()
    project_code: str = ""
    project_name: str = ""
    signed_at: datetime | None = None

    def snapshot(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), cls=DjangoJSONEncoder))


@dataclass(frozen=True)
class ContractResult:
    contract: Contract
    project: Project | None
    outcome: UpsertOutcome
    created: bool


def contract_sign(
    *, terms: ContractTerms, version: int, source_system: str, correlation_id: str
) -> ContractResult:
    """Records a signed contract, its immutable version, its project and milestones.

    Refuses (RuleViolation) a contract whose customer, legal entity or rate card the
    tower does not know, or a time-and-materials contract with no rate at all.
    """
    customer = _customer_for(number=terms.customer)
    legal_entity = _active_legal_entity(code=_key(terms.legal_entity))
    rate_card = _rate_card_for(code=terms.rate_card) if terms.rate_card else None
    if terms.billing_model in (BillingModel.TIME_AND_MATERIALS, BillingModel.RETAINER):
        if rate_card is None and not terms.rates:
            raise RuleViolation(
                message=f"Contract {terms.number} bills time but names no rate card and no rates.",
                code="missing_rate_card",
                details={"contract": terms.number},
                waiting_on=f"contract_rates:{_key(terms.number)}",
            )
    result = _upsert(
        Contract,
        lookup={"number": _key(terms.number)},
        version=version,
        source_system=source_system,
        values=lambda: {
            "customer": customer,
            "legal_entity": legal_entity,
            "rate_card": rate_card,
            "billing_model": terms.billing_model,
            "currency": _key(terms.currency),
            "start_date": terms.start_date,
            "end_date": terms.end_date,
            "cap_amount": terms.cap_amount,
            "status": ContractStatus.SIGNED,
            "signed_at": terms.signed_at,
            "correlation_id": correlation_id,
        },
    )
    contract: Contract = result.record  # type: ignore[assignment]
    if result.outcome != "applied":
        return ContractResult(contract, contract.projects.first(), result.outcome, False)
    ContractVersion.objects.create(
        contract=contract, version=version, terms=terms.snapshot(), effective_date=terms.start_date
    )
    project = None
    if terms.project_code:
        project = _upsert(
            Project,
            lookup={"code": _key(terms.project_code)},
            version=version,
            source_system=source_system,
            values=lambda: {
                "name": terms.project_name or terms.project_code,
                "contract": contract,
                "customer": customer,
                "legal_entity": legal_entity,
                "status": ProjectStatus.ACTIVE,
                "billable": True,
                "start_date": terms.start_date,
                "end_date": terms.end_date,
            },
        ).record
    for milestone in terms.milestones:
        BillingMilestone.objects.update_or_create(
            contract=contract,
            code=_key(milestone["code"]),
            defaults={
                "project": project,
                "name": milestone["name"],
                "due_date": milestone.get("due_date"),
                "amount": Decimal(str(milestone["amount"])),
                "version": version,
                "source_system": source_system,
            },
        )
    return ContractResult(contract, project, "applied", result.created)  # type: ignore[arg-type]


def resource_upsert(
    *,
    employee_number: str,
    name: str,
    role: str,
    legal_entity_code: str,
    version: int,
    source_system: str,
    email: str = "",
    cost_rate: Decimal | None = None,
    active: bool = True,
) -> UpsertResult:
    return _upsert(
        Resource,
        lookup={"employee_number": _key(employee_number)},
        version=version,
        source_system=source_system,
        values=lambda: {
            "name": name.strip(),
            "email": email.strip(),
            "role": role.strip(),
            "legal_entity": _active_legal_entity(code=_key(legal_entity_code)),
            "cost_rate": cost_rate,
            "active": active,
        },
    )


def rate_card_upsert(
    *,
    code: str,
    name: str,
    currency: str,
    lines: dict[str, Decimal],
    version: int,
    source_system: str,
    legal_entity_code: str = "",
) -> UpsertResult:
    """Creates or changes a rate card; its lines become exactly ``lines`` (role -> rate)."""
    result = _upsert(
        RateCard,
        lookup={"code": _key(code)},
        version=version,
        source_system=source_system,
        values=lambda: {
            "name": name.strip(),
            "currency": _key(currency),
            "legal_entity": _active_legal_entity(code=_key(legal_entity_code))
            if legal_entity_code
            else None,
        },
    )
    if result.outcome == "applied":
        card: RateCard = result.record  # type: ignore[assignment]
        card.lines.exclude(role__in=list(lines)).delete()
        for role, rate in lines.items():
            RateCardLine.objects.update_or_create(rate_card=card, role=role, defaults={"rate": rate})
    return result


def project_for(*, code: str) -> Project:
    project = Project.objects.filter(code=_key(code)).first()
    if project is None:
        raise RuleViolation(
            message=f"Project '{_key(code)}' does not exist.",
            code="unknown_project",
            details={"project": _key(code)},
            waiting_on=f"project:{_key(code)}",
        )
    return project


def project_change(*, code: str, source_system: str, changes: dict[str, Any]) -> Project:
    """Applies another system's change to a project the tower holds; its version grows by one.

    A project hears from the contract and from the PSA, each with its own version
    numbers, so the caller judges staleness against that system's sync state.
    """
    project = Project.objects.select_for_update().filter(code=_key(code)).first()
    if project is None:
        project_for(code=code)  # raises unknown_project
    for field_name, value in changes.items():
        if value is not None:
            setattr(project, field_name, value)
    project.version += 1
    project.source_system = source_system
    project.save()
    return project
