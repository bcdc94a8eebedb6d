"""Reconciliation: the ERP's invoices against the tower's, per project and period.

Every posted invoice must be in the ERP once, with the same total and the same hours as
the time the tower approved for that project and month; an ERP invoice on a
project that the tower never posted (a duplicate, or one keyed by hand) is drift too.
Each drift is a ``reconciliation_drift`` exception with the amount at stake, restated by
every run that finds it again and resolved by the first run that no longer does; the
run itself succeeds.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Sum

from canonical.choices import InvoiceStatus
from canonical.models import Invoice
from canonical.services.billing import MONTHLY_FEE
from integrations.choices import ErrorClass, ExceptionType, Outcome
from integrations.clients.erp import ErpClient
from integrations.errors import IntegrationError
from integrations.flows.registry import handles
from integrations.models import ExceptionRecord
from integrations.selectors.routing import erp_for_or_none, erp_systems
from integrations.selectors.sync import sync_state_for
from integrations.services.exceptions import exception_raise, exceptions_resolve_by_fix

CENT = Decimal("0.01")

if TYPE_CHECKING:
    from integrations.models import ConnectedSystem, Transaction


@handles("reconciliation.run", atomic=False)
def reconciliation_run(tx: Transaction) -> str:
    """Each ERP instance against the invoices routed to it (its legal entities')."""
    posted = Invoice.objects.filter(
        status__in=(InvoiceStatus.POSTED, InvoiceStatus.PAID)
    ).select_related("project", "legal_entity")
    owners: dict[str, ConnectedSystem | None] = {}
    routed: dict[int, list[Invoice]] = {}
    for invoice in posted:
        code = invoice.legal_entity.code
        if code not in owners:
            owners[code] = erp_for_or_none(code)
        if owners[code] is not None:
            routed.setdefault(owners[code].pk, []).append(invoice)
    systems = list(erp_systems())
    if not systems:
        raise IntegrationError(
            "No enabled erp system with a base URL is connected.",
            transient=False,
            error_class=ErrorClass.CONFIGURATION,
            code=ExceptionType.SYSTEM_NOT_CONFIGURED,
            waiting_on="system:ERP",
        )
    drifts: list[tuple[str, str, Decimal, str, dict]] = []
    for erp_system in systems:
        # One ERP is "the ERP", as before; several are named.
        where = "the ERP" if len(systems) == 1 else f"the ERP {erp_system.slug}"
        drifts.extend(_erp_drifts(erp_system, routed.get(erp_system.pk, []), where))
    with transaction.atomic():
        # A drift found again is the same exception, restated with today's amount; one
        # no longer found was fixed (in the ERP or by a re-post) and resolves by itself.
        found = {
            exception_raise(
                tx=tx,
                failure=IntegrationError.business(
                    message,
                    code=ExceptionType.RECONCILIATION_DRIFT,
                    details=details,
                    money_at_risk=amount,
                    currency=currency,
                    waiting_on="",
                ),
                cause=key,
                business_key=key,
                restate=True,
            ).pk
            for key, message, amount, currency, details in drifts
        }
        exceptions_resolve_by_fix(
            ExceptionRecord.objects.filter(
                exception_type=ExceptionType.RECONCILIATION_DRIFT
            ).exclude(pk__in=found),
            resolution=f"Reconciliation {tx.business_key or tx.pk} no longer finds this drift.",
        )
    return Outcome.APPLIED


def _erp_drifts(
    erp_system: ConnectedSystem, posted: list[Invoice], where: str
) -> list[tuple[str, str, Decimal, str, dict]]:
    """The drifts between one ERP instance and the posted invoices it owns."""
    erp = ErpClient(erp_system)
    erp_invoices = erp.list("invoice")
    by_external_id: dict[str, list[dict]] = {}
    for item in erp_invoices:
        by_external_id.setdefault(str(item.get("externalId") or ""), []).append(item)
    known_jobs: set[str] = set()
    drifts: list[tuple[str, str, Decimal, str, dict]] = []
    for invoice in posted:
        job = sync_state_for(invoice.project, erp_system)
        if job:
            known_jobs.add(job.external_id)
        copies = by_external_id.get(invoice.number, [])
        if not copies:
            drifts.append(
                (
                    invoice.number,
                    f"Invoice {invoice.number} was posted but {where} has no such invoice.",
                    invoice.amount,
                    invoice.currency,
                    {"invoice": invoice.number},
                )
            )
            continue
        if len(copies) > 1:
            drifts.append(
                (
                    invoice.number,
                    f"{where[0].upper()}{where[1:]} holds invoice {invoice.number} {len(copies)} times.",
                    invoice.amount * (len(copies) - 1),
                    invoice.currency,
                    {
                        "invoice": invoice.number,
                        "system": erp_system.slug,
                        "erp_ids": [c["id"] for c in copies],
                    },
                )
            )
        total = Decimal(str(copies[0].get("total") or "0"))
        if total != invoice.amount:
            drifts.append(
                (
                    invoice.number,
                    f"Invoice {invoice.number}: the tower billed {invoice.amount}, {where} holds {total}.",
                    abs(invoice.amount - total),
                    invoice.currency,
                    {"invoice": invoice.number, "tower": str(invoice.amount), "erp": str(total)},
                )
            )
        # Hours: what the tower approved and billed for the project and month, against the
        # quantities the ERP's invoice carries.
        tower_hours = invoice.lines.filter(time_entry__isnull=False).aggregate(h=Sum("quantity"))[
            "h"
        ] or Decimal("0")
        erp_hours = sum(
            (
                Decimal(str(line.get("quantity") or 0))
                for line in (copies[0].get("item") or {}).get("items", [])
                # A milestone's, a monthly fee's or an expense's line bills no hours.
                if not str(line.get("description", "")).startswith(
                    ("Milestone ", MONTHLY_FEE, "Expense ")
                )
            ),
            Decimal("0"),
        )
        tower_hours, erp_hours = tower_hours.quantize(CENT), erp_hours.quantize(CENT)
        if tower_hours != erp_hours:
            drifts.append(
                (
                    f"{invoice.number}:hours",
                    f"{invoice.project.code} {invoice.period_start:%B %Y}: {tower_hours} h approved and billed, "
                    f"{where} invoice carries {erp_hours} h.",
                    abs(tower_hours - erp_hours)
                    * (invoice.amount / tower_hours if tower_hours else Decimal("0")),
                    invoice.currency,
                    {
                        "invoice": invoice.number,
                        "tower_hours": str(tower_hours),
                        "erp_hours": str(erp_hours),
                    },
                )
            )
    tower_numbers = set(Invoice.objects.values_list("number", flat=True))
    for item in erp_invoices:
        job_id = str((item.get("job") or {}).get("id") or "")
        if job_id in known_jobs and str(item.get("externalId") or "") not in tower_numbers:
            key = f"{erp_system.slug}:{item['id']}"
            drifts.append(
                (
                    key,
                    f"{where[0].upper()}{where[1:]} holds invoice {item.get('tranId') or item['id']} on a tower project that the tower never posted.",
                    Decimal(str(item.get("total") or "0")),
                    "",
                    {"erp_id": item["id"]},
                )
            )
    return drifts
