"""Expenses: an expense report approved in the PSA, its billable lines checked against the
contract and rebilled on the project's invoice candidates (``canonical.services.expenses``);
the invoice's posting to the ERP (``time_to_billing.invoice_post``) then carries them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from canonical.services.expenses import ExpenseLineData, expense_report_approve
from integrations.flows.registry import handles
from integrations.services.lineage import link_to_contract
from integrations.services.sync import key_for_external_id

if TYPE_CHECKING:
    from integrations.models import Transaction


@handles("expense_report.approved")
def expense_report_approved(tx: Transaction) -> str:
    data = tx.normalized["data"]
    result = expense_report_approve(
        number=data["number"],
        project_code=key_for_external_id(
            system=tx.source_system, kind="project", key=data["project"]
        ),
        employee_number=key_for_external_id(
            system=tx.source_system, kind="resource", key=data["resource"]
        ),
        currency=data["currency"],
        approved_at=datetime.fromisoformat(data["approved_at"].replace("Z", "+00:00"))
        if data.get("approved_at")
        else None,
        lines=[
            ExpenseLineData(
                category=line["category"],
                amount=Decimal(str(line["amount"])),
                incurred_on=date.fromisoformat(line["incurred_on"]),
                billable=line["billable"],
                currency=line.get("currency", ""),
                exchange_rate=Decimal(str(line["exchange_rate"]))
                if line.get("exchange_rate") is not None
                else None,
                receipt_reference=line.get("receipt_reference", ""),
                description=line.get("description", ""),
            )
            for line in data["lines"]
        ],
        version=tx.event_version or 1,
        source_system=tx.source_system.slug,
    )
    link_to_contract(tx, result.report.project)
    return result.outcome
