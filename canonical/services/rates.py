"""Rates: what a role bills at on a project, under its contract and rate card."""

from __future__ import annotations

from decimal import Decimal

from canonical.choices import (
    RuleCode,
)
from canonical.errors import RuleViolation
from canonical.models import (
    Assignment,
    Contract,
    Project,
)
from canonical.services.base import business_key


def rate_for(*, project: Project, role: str, assignment: Assignment | None = None) -> Decimal:
    """The hourly bill rate: the assignment's own, else the contract's, else its rate card's."""
    if assignment is not None and assignment.bill_rate is not None:
        return assignment.bill_rate
    contract = project.contract
    terms: dict[str, object] = {}
    card: dict[str, Decimal] = {}
    if contract is not None:
        current = contract.versions.order_by("-version").first()
        terms = (current.terms.get("rates") or {}) if current else {}
        if role not in terms and contract.rate_card_id:
            card = {line.role: line.rate for line in contract.rate_card.lines.filter(role=role)}
    return rate_from(project=project, role=role, assignment=assignment, terms=terms, card=card)


def rate_from(
    *,
    project: Project,
    role: str,
    assignment: Assignment | None,
    terms: dict[str, object],
    card: dict[str, Decimal],
) -> Decimal:
    """``rate_for`` on what it read: the rates of the contract's current terms (``terms``)
    and its rate card's lines (``card``, by role). The set-based time path reads them once
    for a chunk and asks this for each entry."""
    if assignment is not None and assignment.bill_rate is not None:
        return assignment.bill_rate
    if role in terms:
        return Decimal(str(terms[role]))
    if role in card:
        return card[role]
    contract = project.contract
    card_code = contract.rate_card.code if contract is not None and contract.rate_card_id else ""
    raise RuleViolation(
        message=f"No {role} rate for project {project.code}"
        + (f": rate card {card_code} has no {role} line." if card_code else "."),
        code=RuleCode.MISSING_RATE_CARD,
        details={"project": project.code, "role": role, "rate_card": card_code},
        waiting_on=f"rate_card:{business_key(card_code)}:{business_key(role)}"
        if card_code
        else f"contract_rates:{contract.number}"
        if contract is not None
        else f"project_rates:{project.code}",
    )


def rate_or_none(*, project: Project, role: str) -> Decimal | None:
    """The rate ``role`` would bill at on ``project``, or None when nothing prices it."""
    try:
        return rate_for(project=project, role=role)
    except RuleViolation:
        return None


def contract_rates(contract: Contract) -> dict[str, Decimal]:
    """Every role's bill rate under the contract's current terms: its own rates over its rate card's."""
    rates = (
        {line.role: line.rate for line in contract.rate_card.lines.all()}
        if contract.rate_card_id
        else {}
    )
    current = contract.versions.order_by("-version").first()
    if current:
        rates.update(
            {
                role: Decimal(str(rate)).quantize(Decimal("0.01"))
                for role, rate in (current.terms.get("rates") or {}).items()
            }
        )
    return rates
