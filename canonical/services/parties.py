"""Master data: legal entities, customers, resources and rate cards."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from canonical.choices import (
    RuleCode,
)
from canonical.errors import ApplicationError, ConflictError, RuleViolation
from canonical.models import (
    Customer,
    LegalEntity,
    RateCard,
    RateCardLine,
    Resource,
)
from canonical.services.base import UpsertResult, business_key, record_required, upsert
from canonical.services.staffing import skills_of

CENT = Decimal("0.01")


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
    return upsert(
        LegalEntity,
        lookup={"code": business_key(code)},
        version=version,
        source_system=source_system,
        values=lambda: {
            "name": name.strip(),
            "country": business_key(country),
            "currency": business_key(currency),
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
    tax_code: str | None = None,
    payment_terms: str | None = None,
    parent_number: str | None = None,
) -> UpsertResult:
    """Creates or changes a customer. A code or parent given as None is left as it is (the
    sender does not hold it); an empty one clears it. A parent (the bill-to account) the
    tower does not know yet makes the customer wait for it; one that would make a cycle
    is refused."""

    def values() -> dict[str, Any]:
        changes: dict[str, Any] = {
            "name": name.strip(),
            "legal_entity": legal_entity_active(code=business_key(legal_entity_code)),
            "currency": business_key(currency),
            "active": active,
        }
        if tax_code is not None:
            changes["tax_code"] = tax_code.strip()
        if payment_terms is not None:
            changes["payment_terms"] = payment_terms.strip()
        if parent_number is not None:
            changes["parent"] = (
                customer_parent_check(number=number, parent_number=parent_number)
                if parent_number.strip()
                else None
            )
        return changes

    return upsert(
        Customer,
        lookup={"number": business_key(number)},
        version=version,
        source_system=source_system,
        values=values,
    )


def legal_entity_active(*, code: str) -> LegalEntity:
    legal_entity = LegalEntity.objects.filter(code=code).first()
    return record_required(
        legal_entity,
        kind="legal_entity",
        key=code,
        label="Legal entity",
        code=RuleCode.INVALID_LEGAL_ENTITY,
        active=legal_entity is None or legal_entity.active,
    )


def customer_for(*, number: str) -> Customer:
    return record_required(
        Customer.objects.filter(number=business_key(number)).first(),
        kind="customer",
        key=business_key(number),
        label="Customer",
        code=RuleCode.UNKNOWN_CUSTOMER,
    )


def customer_parent_check(*, number: str, parent_number: str) -> Customer:
    """The customer ``parent_number``, as bill-to account of ``number``: refused when it is
    the customer itself or one of the customer's own children, however deep (a cycle)."""
    own = business_key(number)
    if business_key(parent_number) == own:
        raise _parent_cycle(own, own, f"Customer {own} cannot be its own bill-to account.")
    parent = customer_for(number=parent_number)
    seen: set[int] = set()
    ancestor: Customer | None = parent
    while ancestor is not None and ancestor.pk not in seen:
        if ancestor.number == own:
            raise _parent_cycle(
                own,
                parent.number,
                f"Customer {parent.number} cannot be the bill-to account of {own}: "
                f"{own} is already {parent.number}'s bill-to account, or above it.",
            )
        seen.add(ancestor.pk)
        ancestor = ancestor.parent
    return parent


def _parent_cycle(own: str, parent: str, message: str) -> RuleViolation:
    return RuleViolation(
        message=message,
        code=RuleCode.CUSTOMER_PARENT_CYCLE,
        details={"customer": own, "parent": parent},
        errors={"parent": ["Would make a cycle of bill-to accounts."]},
    )


def rate_card_for(*, code: str) -> RateCard:
    return record_required(
        RateCard.objects.filter(code=business_key(code)).first(),
        kind="rate_card",
        key=business_key(code),
        label="Rate card",
        code=RuleCode.MISSING_RATE_CARD,
    )


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
    skills: list[str] | None = None,
) -> UpsertResult:
    """Creates or changes a resource; ``skills`` None (the event names none) keeps its own."""
    return upsert(
        Resource,
        lookup={"employee_number": business_key(employee_number)},
        version=version,
        source_system=source_system,
        values=lambda: {
            "name": name.strip(),
            "email": email.strip(),
            "role": role.strip(),
            "legal_entity": legal_entity_active(code=business_key(legal_entity_code)),
            "cost_rate": cost_rate,
            "active": active,
            **({"skills": skills_of(skills)} if skills is not None else {}),
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
    result = upsert(
        RateCard,
        lookup={"code": business_key(code)},
        version=version,
        source_system=source_system,
        values=lambda: {
            "name": name.strip(),
            "currency": business_key(currency),
            "legal_entity": legal_entity_active(code=business_key(legal_entity_code))
            if legal_entity_code
            else None,
        },
    )
    if result.outcome == "applied":
        card: RateCard = result.record  # type: ignore[assignment]
        card.lines.exclude(role__in=list(lines)).delete()
        for role, rate in lines.items():
            RateCardLine.objects.update_or_create(
                rate_card=card, role=role, defaults={"rate": rate}
            )
    return result


def rate_card_line_add(*, code: str, role: str, rate: Decimal) -> RateCardLine:
    """Adds the hourly rate of ``role`` to rate card ``code`` (a person in the tower, for
    work that waits for it); refuses a role the card already prices and a negative rate."""
    card = rate_card_for(code=code)
    role = role.strip()
    if not role:
        raise ApplicationError("A rate card line needs a role.", errors={"role": ["Required."]})
    if rate is None or rate < 0:
        raise ApplicationError("A rate is zero or more.", errors={"rate": ["Zero or more."]})
    existing = card.lines.filter(role__iexact=role).first()
    if existing is not None:
        raise ConflictError(
            f"Rate card {card.code} already has a {existing.role} rate ({existing.rate}).",
            errors={"rate": [f"{existing.role} is already on {card.code}."]},
        )
    return RateCardLine.objects.create(rate_card=card, role=role, rate=rate.quantize(CENT))


def resource_for(*, employee_number: str, active: bool = True) -> Resource:
    """The resource; refused when unknown, and when inactive unless ``active`` is False
    (the caller judges an inactive one by its own rule)."""
    resource = Resource.objects.filter(employee_number=business_key(employee_number)).first()
    return record_required(
        resource,
        kind="resource",
        key=business_key(employee_number),
        label="Resource",
        code=RuleCode.UNKNOWN_RESOURCE,
        active=resource is None or resource.active or not active,
    )
