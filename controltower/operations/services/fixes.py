"""Fixes made from an exception's page: the missing rate card line, an invoice's tax code or
payment terms, a check again of a record fixed in its own system. Each checks the role that
owns it, writes through the canonical service, re-runs the parked transactions in the same
database transaction, and is audited."""

from __future__ import annotations

from decimal import Decimal
from http import HTTPStatus
from typing import Any

from django.db import transaction

from canonical.errors import ApplicationError, InvalidStateError, NotFoundError
from canonical.models import Invoice
from canonical.services.parties import rate_card_line_add
from canonical.services.terms import billing_code_set
from controltower.operations.models import BusinessException
from controltower.operations.selectors.fixes import (
    TowerFix,
    billing_code_fix_of,
    customer_invoices,
    rate_fix_of,
    recheck_fix_of,
)
from controltower.operations.services.audit import audit_record
from integrations.models import Transaction
from integrations.services.billing import invoice_terms_waits_clear
from integrations.services.exceptions import exception_recheck_key, exceptions_clear


def _fixable(exception_id: int, actor: Any, fix_of: Any, what: str) -> tuple[Any, TowerFix]:
    exc = BusinessException.objects.filter(pk=exception_id).first()
    if exc is None:
        raise NotFoundError(f"Exception {exception_id} does not exist.")
    fix = fix_of(exc)
    if fix is None:
        raise InvalidStateError(
            f"Exception {exc.pk} is not open or is not fixed by {what}.",
            errors={"waiting_on": [exc.waiting_on or "nothing"]},
        )
    if actor is not None and not actor.has_perm(fix.permission):
        raise ApplicationError(f"{fix.title} needs {fix.who}.", status_code=HTTPStatus.FORBIDDEN)
    return exc, fix


def _held_ids(exc: BusinessException) -> list[int]:
    return list(Transaction.objects.filter(exception_id=exc.pk).values_list("pk", flat=True))


def exception_fix_rate(*, exception_id: int, actor: Any, rate: Decimal) -> int:
    """Adds the missing role's rate to the rate card the exception names; every exception
    waiting for that line resolves and its transactions run again. Returns how many."""
    with transaction.atomic():
        exc, fix = _fixable(exception_id, actor, rate_fix_of, "adding a rate")
        card, role = fix.facts["rate_card"], fix.facts["role"]
        held = _held_ids(exc)
        line = rate_card_line_add(code=card.code, role=role, rate=rate)
        resolved = exceptions_clear(
            waiting_on=exc.waiting_on,
            resolution=f"{role} rate {line.rate} {card.currency} added to rate card {card.code}.",
        )
        audit_record(
            actor=actor,
            action="exception.fix_rate",
            obj=exc,
            after={
                "rate_card": card.code,
                "role": role,
                "rate": str(line.rate),
                "rerun_transactions": held,
            },
            reason=f"Added the {role} rate to {card.code}.",
        )
    return resolved


def exception_fix_billing_code(
    *, exception_id: int, actor: Any, code: str, target: str = ""
) -> int:
    """Sets the tax code or payment terms an invoice waits for on its bill-to customer or
    its contract (``target``), from the codes its legal entity's ERP accepts; the invoices
    parked for their terms run again (one still wrong parks again). Returns how many
    exceptions resolved."""
    with transaction.atomic():
        exc, fix = _fixable(exception_id, actor, billing_code_fix_of, "setting a code")
        facts = fix.facts
        target = target or facts["target"]
        if target == "contract" and facts["contract"] is not None:
            record = facts["contract"]
            invoices = Invoice.objects.filter(project__contract=record)
            where = f"contract {record.number}"
        elif target == "customer":
            record = facts["bill_to"]
            invoices = customer_invoices(record)
            where = f"customer {record.number}"
        else:
            raise ApplicationError(
                "Set it on the bill-to customer or on the contract.",
                errors={"target": ["customer or contract."]},
            )
        invoice = facts["invoice"]
        before = billing_code_set(
            record=record, kind=facts["kind"], code=code, legal_entity=invoice.legal_entity
        )
        held = _held_ids(exc)
        resolved = invoice_terms_waits_clear(
            invoices=invoices,
            resolution=f"The {facts['label']} of {where} set to {code.strip()} in the tower.",
        )
        audit_record(
            actor=actor,
            action="exception.fix_billing_code",
            obj=exc,
            before={facts["kind"]: before, "on": where},
            after={facts["kind"]: code.strip(), "on": where, "rerun_transactions": held},
            reason=f"The {facts['label']} of invoice {invoice.number}.",
        )
    return resolved


def exception_fix_recheck(*, exception_id: int, actor: Any) -> int:
    """Checks again whether what the exception waits for is there now (fixed in its own
    system); if so it resolves and its transactions run again. Returns how many resolved:
    0 when it is still missing."""
    with transaction.atomic():
        exc, _ = _fixable(exception_id, actor, recheck_fix_of, "a check")
        held = _held_ids(exc)
        key = exc.waiting_on
        resolved = exception_recheck_key(
            waiting_on=key, resolution=f"{key.replace(':', ' ', 1)} is there now (checked again)."
        )
        audit_record(
            actor=actor,
            action="exception.recheck",
            obj=exc,
            after={"found": bool(resolved), "rerun_transactions": held if resolved else []},
        )
    return resolved
