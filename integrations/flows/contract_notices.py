"""Renewal and obligation notices: a contract nearing its end date or its cap raises a
``contract_nearing_end`` exception (low severity) for its owning team, with the contract's
remaining value as its money at risk.

The thresholds are settings: ``CT_RENEWAL_NOTICE_DAYS`` before the end date, and
``CT_RENEWAL_CAP_PERCENT`` of the cap billed. Each notice is raised once per contract and
threshold, whatever becomes of it: its fingerprint names the end date (or the cap), so a
later day's run skips it, and an amendment that moves the end date or raises the cap gives
a new notice when the new one nears. An open notice whose contract no longer nears that
threshold (amended, or terminated) resolves by itself.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import Q

from canonical.choices import ContractStatus
from canonical.formats import money_text
from canonical.selectors import contract_list, contract_term
from integrations.choices import ExceptionType, FlowKind, Outcome
from integrations.errors import IntegrationError
from integrations.flows.registry import handles
from integrations.models import ExceptionRecord
from integrations.services.exceptions import exception_raise, exceptions_resolve_by_fix

if TYPE_CHECKING:
    from canonical.models import Contract
    from integrations.models import Transaction


def notice_fingerprint(cause: str) -> str:
    """The fingerprint ``exception_raise`` gives a notice of ``cause``."""
    return f"{ExceptionType.CONTRACT_NEARING_END}|{FlowKind.CONTRACT_TO_PROJECT}|{cause}"


@handles("contract_notices.run")
def contract_notices_run(tx: Transaction) -> str:
    """Raises the notices due on the run's day; resolves those no longer due."""
    day = date.fromisoformat(tx.normalized["data"]["day"])
    days = settings.CT_RENEWAL_NOTICE_DAYS
    percent = Decimal(settings.CT_RENEWAL_CAP_PERCENT)
    due: set[str] = set()
    # Ended contracts too: a notice raised before the end stays open past it (it is not
    # "no longer due"); none is raised for a contract that had ended already.
    running = (
        contract_list()
        .exclude(status=ContractStatus.TERMINATED)
        .filter(Q(end_date__lte=day + timedelta(days=days)) | Q(cap_amount__isnull=False))
    )
    for contract in running:
        term = contract_term(contract=contract, today=day)
        if term.days_left is not None and term.days_left <= days:
            cause = f"contract_end:{contract.number}:{term.end_date.isoformat()}"
            due.add(cause)
            if term.days_left >= 0:
                message = (
                    f"Contract {contract.number} ends on {term.end_date.isoformat()}, in "
                    f"{term.days_left} days; {money_text(term.remaining, contract.currency)} "
                    "of it remains."
                )
                _notice(tx, contract, term, cause, message, threshold=f"{days} days")
        if term.cap_percent is not None and term.cap_percent >= percent:
            cause = f"contract_cap:{contract.number}:{term.cap}:{percent}"
            message = (
                f"Contract {contract.number} has billed {term.cap_percent} % of its cap of "
                f"{money_text(term.cap, contract.currency)}; "
                f"{money_text(term.remaining, contract.currency)} remains."
            )
            due.add(cause)
            _notice(tx, contract, term, cause, message, threshold=f"{percent} % of the cap")
    exceptions_resolve_by_fix(
        ExceptionRecord.objects.filter(exception_type=ExceptionType.CONTRACT_NEARING_END).exclude(
            fingerprint__in=[notice_fingerprint(cause) for cause in due]
        ),
        resolution="The contract no longer nears this end date or cap (amended or terminated).",
    )
    return Outcome.APPLIED


def _notice(
    tx: Transaction, contract: Contract, term, cause: str, message: str, *, threshold: str
) -> None:
    """Raises the notice of ``cause`` unless it was raised before (open or closed)."""
    if ExceptionRecord.objects.filter(fingerprint=notice_fingerprint(cause)).exists():
        return
    exception_raise(
        tx=tx,
        failure=IntegrationError.business(
            message,
            code=ExceptionType.CONTRACT_NEARING_END,
            details={
                "contract": contract.number,
                "threshold": threshold,
                "end_date": term.end_date.isoformat() if term.end_date else None,
                "days_left": term.days_left,
                "cap": str(term.cap) if term.cap is not None else None,
                "billed": str(term.billed),
                "cap_percent": str(term.cap_percent) if term.cap_percent is not None else None,
            },
            money_at_risk=term.remaining,
            currency=contract.currency,
            money_note=f"The contract's remaining value: {term.remaining_note}",
            record=contract,
        ),
        cause=cause,
        business_key=contract.number,
    )
