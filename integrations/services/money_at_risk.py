"""Money at risk: one estimator per exception code, so a queue sorted by money makes sense.

``money_at_risk_estimate`` is called by ``exception_raise`` for every failure. What the
raising code counted (``failure.money_at_risk``) is kept, with its own note or the
registry's words; otherwise the code's estimator values the work the transaction holds
from its normalized payload (``tx.normalized["data"]``) and says how, in a note stored
with the exception (``ExceptionRecord.money_note``).

To add an exception code, add its estimator to ``ESTIMATORS``: ``held_work`` when the
failing transaction's work is what is at stake, ``counted_by_rule`` when the raising code
counts the money itself, ``nothing`` with the reason when the code cannot hold money.
``tests/integrations/test_money_at_risk.py`` walks the registry and fails for a code
without one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone

from canonical.formats import money_text
from canonical.models import BillingMilestone, Contract, Project, RateCardLine, Resource
from canonical.selectors import contract_term, months_left
from canonical.services.billing import hours_text, money
from canonical.services.rates import contract_rates, rate_or_none
from canonical.services.staffing import planned_value, project_currency
from integrations.choices import ExceptionType
from integrations.errors import IntegrationError
from integrations.exception_types import exception_kind
from integrations.flows.catalog import REPUSH_EVENT
from integrations.models import Transaction

logger = logging.getLogger(__name__)

ZERO = Decimal("0")
CONTRACT_EVENTS = ("contract.signed", "contract.amended")


@dataclass(frozen=True)
class Estimate:
    """Money at risk and how it was estimated."""

    amount: Decimal
    currency: str
    note: str


Estimator = Callable[[Transaction, IntegrationError], Estimate]


def money_at_risk_estimate(*, tx: Transaction, failure: IntegrationError) -> Estimate:
    """What ``failure`` on ``tx`` holds up: the raising code's count when it made one (a
    zero counts when it says why), else its code's estimator's."""
    counted = failure.money_at_risk
    if counted is not None and (counted or failure.money_note):
        return Estimate(
            money(counted),
            failure.currency,
            failure.money_note or exception_kind(failure.code).money,
        )
    # A code added without an estimator is caught by the registry-walking test, not here.
    estimator = ESTIMATORS.get(failure.code, counted_by_rule)
    try:
        estimate = estimator(tx, failure)
    except Exception:  # a fault in an estimate must not stop the exception being recorded
        logger.exception("Transaction %s: money at risk of %s not estimated.", tx.pk, failure.code)
        return Estimate(ZERO, failure.currency, "Not estimated: the estimate failed (logged).")
    return Estimate(money(estimate.amount), estimate.currency or failure.currency, estimate.note)


# --- the estimators ---------------------------------------------------------------------------


def held_work(tx: Transaction, failure: IntegrationError) -> Estimate:
    """What the work ``tx`` carries is worth, by its kind: a contract's remaining value, time
    at its rate, a milestone's amount, an assignment's planned hours, a project's contract."""
    data = (tx.normalized or {}).get("data") or {}
    event = tx.event_type
    if event in CONTRACT_EVENTS:
        return contract_payload_value(data)
    if event.startswith("time_entry."):
        return time_value(data)
    if event == "milestone.reached":
        return milestone_value(
            contract=str(data.get("contract", "")), code=str(data.get("code", ""))
        )
    if event.startswith("assignment."):
        return assignment_value(data)
    contract = _contract_of(event, data)
    if contract is not None:
        term = contract_term(contract=contract, today=timezone.localdate())
        return Estimate(
            term.remaining,
            contract.currency,
            f"Contract {contract.number}'s remaining value: {term.remaining_note}",
        )
    return Estimate(
        ZERO,
        "",
        f"None: a {event or 'transaction'} prices no work itself (master data or "
        "configuration); the work that waits for it is counted on its own exceptions.",
    )


def counted_by_rule(tx: Transaction, failure: IntegrationError) -> Estimate:
    """For codes whose raising rule counts the money: it counted none this time."""
    return Estimate(
        ZERO,
        "",
        f"{exception_kind(failure.code).money} The rule that raised it counted none here.",
    )


def nothing(reason: str) -> Estimator:
    """An estimator for a code that cannot hold money, saying why."""

    def estimate(tx: Transaction, failure: IntegrationError) -> Estimate:
        return Estimate(ZERO, "", reason)

    return estimate


# --- the values of held work ------------------------------------------------------------------


def contract_payload_value(data: dict[str, Any], *, today: date | None = None) -> Estimate:
    """A contract not (yet) stored, from its terms as sent: its cap, else the sum of its
    milestones, else its monthly fee for the months left of its term, else none."""
    currency = str(data.get("currency", ""))
    number = data.get("number", "the contract")
    cap = _amount(data.get("cap_amount"))
    if cap:
        return Estimate(cap, currency, f"Contract {number}'s cap, {money_text(cap, currency)}.")
    milestones = [_amount(m.get("amount")) or ZERO for m in data.get("milestones") or []]
    if sum(milestones):
        return Estimate(
            sum(milestones),
            currency,
            f"The sum of contract {number}'s {len(milestones)} milestones.",
        )
    fee = _amount(data.get("monthly_fee"))
    start, end = _date(data.get("start_date")), _date(data.get("end_date"))
    if fee and start is not None:
        months = months_left(start=start, end=end, today=today or timezone.localdate())
        term = f"months left of its term (to {end.isoformat()})" if end else "months (open-ended)"
        return Estimate(
            fee * months,
            currency,
            f"Contract {number}'s monthly fee of {money_text(fee, currency)} for {months} {term}.",
        )
    return Estimate(
        ZERO,
        currency,
        f"None counted: contract {number} has no cap, milestones or monthly fee; what it is "
        "worth is the time it will bill, which nothing prices in advance.",
    )


def time_value(data: dict[str, Any]) -> Estimate:
    """Held hours at the rate they would bill at: the project's rate for the person's role;
    without the person, the contract's lowest rate; without the project, the rate of the
    contract that creates it."""
    hours = _amount(data.get("hours")) or ZERO
    code = str(data.get("project", ""))
    project = Project.objects.select_related("contract", "customer").filter(code=code).first()
    resource = Resource.objects.filter(employee_number=str(data.get("resource", ""))).first()
    role = resource.role if resource is not None else ""
    if project is not None:
        currency = project_currency(project)
        if resource is not None:
            rate = rate_or_none(project=project, role=role)
            how = f"project {project.code}'s rate for a {role}"
        else:
            rates = contract_rates(project.contract) if project.contract_id else {}
            rate = min(rates.values()) if rates else None
            how = "the lowest rate of its contract (the person, so the role, is unknown)"
    else:
        terms = _pending_contract_terms(project=code)
        if terms is None:
            return Estimate(
                ZERO,
                "",
                f"None: neither project {code} nor a contract that creates it is known, so "
                f"nothing prices the {hours_text(hours)} h held.",
            )
        currency = str(terms.get("currency", ""))
        rates = _payload_rates(terms)
        rate = rates.get(role) if role else (min(rates.values()) if rates else None)
        how = (
            f"the {role} rate of contract {terms.get('number')}, which creates the project"
            if role
            else f"the lowest rate of contract {terms.get('number')}, which creates the project"
        )
    if rate is None:
        return Estimate(
            ZERO,
            currency,
            f"None: nothing prices the {hours_text(hours)} h held yet (no rate for the role).",
        )
    return Estimate(
        hours * rate,
        currency,
        f"{hours_text(hours)} h at {money_text(rate, currency)} an hour, {how}.",
    )


def milestone_value(*, contract: str, code: str) -> Estimate:
    """A milestone's amount: the stored milestone's, else as a held contract or amendment
    names it."""
    stored = (
        BillingMilestone.objects.select_related("contract")
        .filter(contract__number=contract, code=code)
        .first()
    )
    if stored is not None:
        currency = stored.contract.currency
        return Estimate(
            stored.amount,
            currency,
            f"Milestone {code}'s amount on contract {contract}, "
            f"{money_text(stored.amount, currency)}.",
        )
    terms = _pending_contract_terms(number=contract, milestone=code)
    if terms is not None:
        currency = str(terms.get("currency", ""))
        amount = next(
            _amount(m.get("amount")) or ZERO
            for m in terms.get("milestones") or []
            if m.get("code") == code
        )
        return Estimate(
            amount,
            currency,
            f"Milestone {code}'s amount, {money_text(amount, currency)}, as the held "
            f"{terms.get('number')} terms name it.",
        )
    return Estimate(
        ZERO,
        "",
        f"None: no contract terms name milestone {code} of {contract}, so its amount is unknown.",
    )


def assignment_value(data: dict[str, Any]) -> Estimate:
    """An assignment's planned hours (8 h a working day at its allocation) at its own rate,
    else its project's rate for the role, up to its end or its project's."""
    project = (
        Project.objects.select_related("contract", "customer")
        .filter(code=str(data.get("project", "")))
        .first()
    )
    start = _date(data.get("start_date"))
    if project is None or start is None:
        return Estimate(ZERO, "", "None: its project is not known, so nothing prices it.")
    end = _date(data.get("end_date")) or project.end_date
    if end is None and project.contract_id:
        end = project.contract.end_date
    role = str(data.get("role", ""))
    rate = _amount(data.get("bill_rate")) or rate_or_none(project=project, role=role)
    currency = project_currency(project)
    value = (
        planned_value(
            first=start,
            last=end,
            allocation_percent=int(data.get("allocation_percent") or 0),
            rate=rate,
        )
        if end is not None
        else None
    )
    if value is None:
        return Estimate(
            ZERO,
            currency,
            "None: no rate prices the role, or nothing ends the assignment.",
        )
    return Estimate(
        value,
        currency,
        f"The planned hours from {start.isoformat()} to {end.isoformat()} at "
        f"{data.get('allocation_percent')} % at {money_text(rate, currency)} an hour.",
    )


# --- helpers ----------------------------------------------------------------------------------


def _amount(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _contract_of(event: str, data: dict[str, Any]) -> Contract | None:
    """The stored contract whose work a transaction carries: a project's (a project event's
    own, a re-push's, or the one it names), or the contract it names."""
    project = data.get("project")
    code = data.get("code") if event.startswith("project.") else None
    code = code or (project.get("code") if isinstance(project, dict) else project)
    number = data.get("contract")
    if event == REPUSH_EVENT:
        code, number = (
            (None, data.get("key"))
            if data.get("record_type") == "contract"
            else (data.get("key"), None)
        )
    if isinstance(code, str):
        found = Project.objects.select_related("contract").filter(code=code).first()
        if found is not None and found.contract_id:
            return found.contract
    if isinstance(number, str):
        return Contract.objects.filter(number=number).first()
    return None


def _pending_contract_terms(
    *, project: str = "", number: str = "", milestone: str = ""
) -> dict[str, Any] | None:
    """The latest terms a contract event carried (held, or not yet applied) for the contract
    that creates ``project``, or for contract ``number`` with ``milestone`` among its own."""
    found = Transaction.objects.filter(event_type__in=CONTRACT_EVENTS)
    if project:
        found = found.filter(normalized__data__project__code=project)
    if number:
        found = found.filter(normalized__data__number=number)
    for tx in found.order_by("-pk")[:20]:
        data = (tx.normalized or {}).get("data") or {}
        if not milestone or any(m.get("code") == milestone for m in data.get("milestones") or []):
            return data
    return None


def _payload_rates(terms: dict[str, Any]) -> dict[str, Decimal]:
    """The rates contract terms give each role: their own over their rate card's."""
    rates: dict[str, Decimal] = {}
    number = terms.get("number")
    stored = Contract.objects.filter(number=number).first() if number else None
    if stored is not None:
        rates.update(contract_rates(stored))
    elif terms.get("rate_card"):
        rates.update(
            RateCardLine.objects.filter(rate_card__code=terms["rate_card"]).values_list(
                "role", "rate"
            )
        )
    for line in terms.get("rates") or []:
        rate = _amount(line.get("rate"))
        if rate is not None:
            rates[line.get("role", "")] = rate
    return rates


# One estimator per exception code; the registry-walking test fails for a code without one.
ESTIMATORS: dict[str, Estimator] = {
    ExceptionType.MISSING_RATE_CARD: held_work,
    ExceptionType.INVALID_LEGAL_ENTITY: held_work,
    ExceptionType.UNKNOWN_CUSTOMER: held_work,
    ExceptionType.UNKNOWN_PROJECT: held_work,
    ExceptionType.UNKNOWN_RESOURCE: held_work,
    ExceptionType.UNKNOWN_MILESTONE: held_work,
    ExceptionType.PROJECT_NOT_ACTIVE: held_work,
    ExceptionType.RESOURCE_NOT_ASSIGNED: held_work,
    ExceptionType.BILLING_HOLD: held_work,
    ExceptionType.CAP_EXCEEDED: counted_by_rule,
    ExceptionType.AMENDMENT_CONFLICT: counted_by_rule,
    ExceptionType.AMENDMENT_BEFORE_CONTRACT: held_work,
    ExceptionType.ASSIGNMENT_OUTSIDE_PROJECT: counted_by_rule,
    ExceptionType.RESOURCE_UNAVAILABLE: held_work,
    ExceptionType.RESOURCE_OVER_ALLOCATED: counted_by_rule,
    ExceptionType.NON_OWNER_UPDATE: nothing(exception_kind(ExceptionType.NON_OWNER_UPDATE).money),
    ExceptionType.DOWNSTREAM_REJECTED: held_work,
    ExceptionType.AUTHENTICATION_FAILED: held_work,
    ExceptionType.MAPPING_INCOMPLETE: held_work,
    ExceptionType.SYSTEM_NOT_CONFIGURED: held_work,
    ExceptionType.ERP_NOT_ROUTED: held_work,
    ExceptionType.RECONCILIATION_DRIFT: counted_by_rule,
    ExceptionType.UNHANDLED_EVENT_TYPE: nothing(
        exception_kind(ExceptionType.UNHANDLED_EVENT_TYPE).money
    ),
    ExceptionType.INVOICE_REJECTED: counted_by_rule,
    ExceptionType.EDITED_REPLAY: held_work,
    ExceptionType.BILLING_TERMS_MISSING: held_work,
    ExceptionType.CONTRACT_NEARING_END: counted_by_rule,
    ExceptionType.CUSTOMER_PARENT_CYCLE: nothing(
        exception_kind(ExceptionType.CUSTOMER_PARENT_CYCLE).money
    ),
    ExceptionType.INVOICE_TAX_CODE_MISSING: counted_by_rule,
    ExceptionType.INVOICE_PAYMENT_TERMS_MISSING: counted_by_rule,
    ExceptionType.CODE_NOT_ACCEPTED_BY_ERP: counted_by_rule,
    ExceptionType.EXPENSE_CATEGORY_NOT_ALLOWED: counted_by_rule,
    ExceptionType.EXPENSE_RECEIPT_MISSING: counted_by_rule,
    ExceptionType.EXPENSE_RATE_MISSING: counted_by_rule,
    ExceptionType.MISSING_COST_RATE: counted_by_rule,
    ExceptionType.RESOURCE_LACKS_SKILLS: counted_by_rule,
    ExceptionType.OTHER: nothing(exception_kind(ExceptionType.OTHER).money),
}
