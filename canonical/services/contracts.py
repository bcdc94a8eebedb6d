"""Contracts: signed with their terms, project and milestones; amended as new immutable
versions."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Sum

from canonical.choices import (
    BillingModel,
    ContractStatus,
    InvoiceStatus,
    ProjectStatus,
    RuleCode,
)
from canonical.errors import RuleViolation
from canonical.models import (
    BillingMilestone,
    Contract,
    ContractVersion,
    Invoice,
    InvoiceLine,
    Project,
)
from canonical.services.base import UpsertOutcome, business_key, upsert
from canonical.services.billing import invoice_total, money
from canonical.services.parties import customer_for, legal_entity_active, rate_card_for
from canonical.services.rates import rate_for


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
    monthly_fee: Decimal | None = None
    included_hours: Decimal | None = None
    unused_hours_roll_over: bool = False
    # Expense categories the customer may be rebilled for; none named, no expense is.
    expense_categories: tuple[str, ...] = ()
    expense_markup_percent: Decimal = Decimal("0")
    milestones: tuple[dict[str, Any], ...] = ()
    project_code: str = ""
    project_name: str = ""
    # The skills each role on the project requires (role -> skills).
    project_role_skills: dict[str, list[str]] = field(default_factory=dict)
    signed_at: datetime | None = None
    # Override the customer's on the contract's invoices; empty for the customer's own.
    tax_code: str = ""
    payment_terms: str = ""

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
    tower does not know, a contract that bills time with no rate at all, and one whose
    billing model needs terms it lacks (``billing_terms_check``).
    """
    billing_terms_check(terms)
    customer = customer_for(number=terms.customer)
    legal_entity = legal_entity_active(code=business_key(terms.legal_entity))
    rate_card = rate_card_for(code=terms.rate_card) if terms.rate_card else None
    if terms.billing_model in (BillingModel.TIME_AND_MATERIALS, BillingModel.RETAINER):
        if rate_card is None and not terms.rates:
            raise RuleViolation(
                message=f"Contract {terms.number} bills time but names no rate card and no rates.",
                code=RuleCode.MISSING_RATE_CARD,
                details={"contract": terms.number},
                waiting_on=f"contract_rates:{business_key(terms.number)}",
            )
    result = upsert(
        Contract,
        lookup={"number": business_key(terms.number)},
        version=version,
        source_system=source_system,
        values=lambda: {
            "customer": customer,
            "legal_entity": legal_entity,
            "rate_card": rate_card,
            "billing_model": terms.billing_model,
            "currency": business_key(terms.currency),
            "start_date": terms.start_date,
            "end_date": terms.end_date,
            "cap_amount": terms.cap_amount,
            "monthly_fee": terms.monthly_fee,
            "included_hours": terms.included_hours,
            "unused_hours_roll_over": terms.unused_hours_roll_over,
            "tax_code": terms.tax_code.strip(),
            "payment_terms": terms.payment_terms.strip(),
            "expense_categories": expense_categories_of(terms),
            "expense_markup_percent": terms.expense_markup_percent,
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
        project = upsert(
            Project,
            lookup={"code": business_key(terms.project_code)},
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
                "role_skills": terms.project_role_skills,
            },
        ).record
    for milestone in terms.milestones:
        BillingMilestone.objects.update_or_create(
            contract=contract,
            code=business_key(milestone["code"]),
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


def expense_categories_of(terms: ContractTerms) -> list[str]:
    """The rebillable categories as the contract keeps them: lower case, each once, in order."""
    return list(dict.fromkeys(category.strip().lower() for category in terms.expense_categories))


def billing_terms_check(terms: ContractTerms) -> None:
    """Refuses terms their billing model cannot bill by: a retainer without its monthly fee or
    included hours, managed services without a monthly fee. The contract waits, named,
    until its terms arrive complete (the CLM sends it again, or a replay adds them)."""
    missing = []
    if terms.billing_model in (BillingModel.RETAINER, BillingModel.MANAGED_SERVICES):
        if terms.monthly_fee is None:
            missing.append("monthly_fee")
    if terms.billing_model == BillingModel.RETAINER and terms.included_hours is None:
        missing.append("included_hours")
    if missing:
        model = BillingModel(terms.billing_model).label.lower()
        raise RuleViolation(
            message=f"Contract {business_key(terms.number)} is {model} but names no "
            + " and no ".join(name.replace("_", " ") for name in missing)
            + ".",
            code=RuleCode.BILLING_TERMS_MISSING,
            details={"contract": business_key(terms.number), "missing": missing},
            waiting_on=f"contract_billing_terms:{business_key(terms.number)}",
            errors={name: ["Required by the billing model."] for name in missing},
        )


# --- Amendments -----------------------------------------------------------------------


@dataclass(frozen=True)
class AmendmentResult:
    contract: Contract
    project: Project | None
    outcome: UpsertOutcome


def contract_amend(
    *,
    terms: ContractTerms,
    effective_date: date,
    version: int,
    source_system: str,
    invoiced_rate_cut_approved: bool = False,
) -> AmendmentResult:
    """Records an amendment as a new immutable version and applies it to the contract.

    Refuses an amendment for a contract the tower has not seen signed (it waits for it),
    and a rate cut on time already invoiced at the old rate (an ``amendment_conflict``
    for finance to decide) unless an approver accepted it: then invoiced time stays as
    billed and the new rates apply to what is not yet approved.
    """
    contract = (
        Contract.objects.select_for_update().filter(number=business_key(terms.number)).first()
    )
    if contract is None:
        raise RuleViolation(
            message=f"Amendment to contract {business_key(terms.number)} arrived before the contract.",
            code=RuleCode.AMENDMENT_BEFORE_CONTRACT,
            details={"contract": business_key(terms.number)},
            waiting_on=f"contract_signed:{business_key(terms.number)}",
        )
    if version <= contract.version:
        outcome: UpsertOutcome = "stale" if version < contract.version else "unchanged"
        return AmendmentResult(contract, contract.projects.first(), outcome)
    billing_terms_check(replace(terms, billing_model=contract.billing_model))
    if not invoiced_rate_cut_approved:
        _refuse_rate_cuts_on_invoiced_time(contract, terms.rates, effective_date)
    rate_card = rate_card_for(code=terms.rate_card) if terms.rate_card else contract.rate_card
    contract.rate_card = rate_card
    contract.end_date = terms.end_date
    contract.cap_amount = terms.cap_amount
    contract.monthly_fee = terms.monthly_fee
    contract.included_hours = terms.included_hours
    contract.unused_hours_roll_over = terms.unused_hours_roll_over
    # An amendment that names no code keeps the contract's, as it keeps its rate card.
    contract.tax_code = terms.tax_code.strip() or contract.tax_code
    contract.payment_terms = terms.payment_terms.strip() or contract.payment_terms
    contract.expense_categories = expense_categories_of(terms)
    contract.expense_markup_percent = terms.expense_markup_percent
    contract.status = ContractStatus.AMENDED
    contract.version = version
    contract.source_system = source_system
    contract.save()
    ContractVersion.objects.create(
        contract=contract, version=version, terms=terms.snapshot(), effective_date=effective_date
    )
    project = contract.projects.select_for_update().first()
    if project is not None and project.end_date != terms.end_date:
        project.end_date = terms.end_date
        project.version += 1
        project.save(update_fields=["end_date", "version", "updated_at"])
    for milestone in terms.milestones:
        BillingMilestone.objects.update_or_create(
            contract=contract,
            code=business_key(milestone["code"]),
            defaults={
                "project": project,
                "name": milestone["name"],
                "due_date": milestone.get("due_date"),
                "amount": Decimal(str(milestone["amount"])),
                "version": version,
                "source_system": source_system,
            },
        )
    _rerate_candidates(contract, effective_date)
    return AmendmentResult(contract, project, "applied")


def _rerate_candidates(contract: Contract, effective_date: date) -> None:
    """Time on candidates not yet approved is billed at the rates in force after the amendment."""
    lines = InvoiceLine.objects.filter(
        invoice__project__contract=contract,
        invoice__status__in=(InvoiceStatus.CANDIDATE, InvoiceStatus.AWAITING_APPROVAL),
        time_entry__work_date__gte=effective_date,
    ).select_related("time_entry__assignment", "time_entry__resource", "invoice__project")
    touched: dict[int, Invoice] = {}
    for line in lines:
        entry = line.time_entry
        role = entry.assignment.role if entry.assignment else entry.resource.role
        rate = rate_for(project=line.invoice.project, role=role, assignment=entry.assignment)
        if rate != line.rate:
            line.rate = rate
            line.amount = money(line.quantity * rate)
            line.save(update_fields=["rate", "amount"])
            touched[line.invoice_id] = line.invoice
    for invoice in touched.values():
        invoice_total(invoice)


def _refuse_rate_cuts_on_invoiced_time(
    contract: Contract, new_rates: dict[str, Decimal], effective_date: date
) -> None:
    """A lower rate from a date on which time was already invoiced at the old rate is a conflict."""
    invoiced = (InvoiceStatus.APPROVED, InvoiceStatus.POSTED, InvoiceStatus.PAID)
    for role, new in new_rates.items():
        lines = InvoiceLine.objects.filter(
            invoice__project__contract=contract,
            invoice__status__in=invoiced,
            time_entry__work_date__gte=effective_date,
            time_entry__assignment__role=role,
            rate__gt=new,
        )
        totals = lines.aggregate(hours=Sum("quantity"), billed=Sum("amount"))
        hours = totals["hours"]
        if hours:
            old = (totals["billed"] / hours).quantize(Decimal("0.01"))
            raise RuleViolation(
                message=f"Amendment cuts the {role} rate from {old} to {new} from {effective_date}, "
                f"but {hours} h at the old rate are already invoiced.",
                code=RuleCode.AMENDMENT_CONFLICT,
                details={
                    "contract": contract.number,
                    "role": role,
                    "from": str(old),
                    "to": str(new),
                    "hours": str(hours),
                },
                money_at_risk=(totals["billed"] - new * hours).quantize(Decimal("0.01")),
                currency=contract.currency,
            )
