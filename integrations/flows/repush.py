"""Re-push: a person asks for a record to be sent to the ERP or the PSA again.

The transaction (queued by ``controltower.operations.services.actions.record_repush``) names the
record and the target system. The target's sync state is marked stale first, so that
the usual once-per-version push sends the record even though the tower believed the
system held it; the push itself is the contract-to-project flow's own (a posted invoice's,
the time-to-billing flow's posting).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from canonical.choices import InvoiceStatus
from canonical.models import Invoice, Project
from integrations.choices import ErrorClass, ExceptionType, Outcome, SyncOutcome
from integrations.errors import IntegrationError
from integrations.flows.catalog import REPUSH_EVENT
from integrations.flows.contract_to_project import push_project, pushable_projects
from integrations.flows.registry import handles
from integrations.flows.time_to_billing import invoice_send
from integrations.models import ConnectedSystem, SyncState

if TYPE_CHECKING:
    from integrations.models import Transaction


@handles(REPUSH_EVENT, atomic=False)
def record_repush_run(tx: Transaction) -> str:
    data = tx.normalized["data"]
    system = tx.target_system or ConnectedSystem.objects.filter(slug=data.get("system")).first()
    if system is None:
        raise IntegrationError(
            f"System {data.get('system')!r} no longer exists.",
            transient=False,
            error_class=ErrorClass.CONFIGURATION,
            code=ExceptionType.SYSTEM_NOT_CONFIGURED,
        )
    if data.get("record_type") == "invoice":
        return _invoice_repush(tx, system, data)
    projects = pushable_projects()
    if data.get("record_type") == "contract":
        projects = projects.filter(contract__number=data["key"])
    else:
        projects = projects.filter(code=data["key"])
    found = [project for project in projects.order_by("code") if project.contract_id]
    if not found:
        raise IntegrationError.business(
            f"There is no project of {data['key']} with a contract to re-push.",
            code=ExceptionType.UNKNOWN_PROJECT,
        )
    with transaction.atomic():
        SyncState.objects.filter(
            content_type=ContentType.objects.get_for_model(Project),
            object_id__in=[project.pk for project in found],
            system=system,
        ).update(**_stale(data))
    for project in found:
        push_project(tx, project.contract, project)
    return Outcome.APPLIED


def _stale(data: dict) -> dict:
    """What a re-push marks on the sync state: stale, so the push sends the record again;
    and, when the system no longer holds the record (``recreate``), its id forgotten, so
    the push creates it by its external id instead of updating a record that is gone."""
    return {"outcome": SyncOutcome.STALE, **({"external_id": ""} if data.get("recreate") else {})}


def _invoice_repush(tx: Transaction, system: ConnectedSystem, data: dict) -> str:
    """A posted invoice sent to its ERP again, through its own posting: the ERP's copy is
    upserted by the invoice number, so a missing one is created and a changed one
    brought back to the tower's lines."""
    invoice = (
        Invoice.objects.select_related("project", "customer", "legal_entity")
        .filter(number=data["key"], status__in=(InvoiceStatus.POSTED, InvoiceStatus.PAID))
        .first()
    )
    if invoice is None:
        raise IntegrationError.business(
            f"There is no posted invoice {data['key']} to re-push.",
            code=ExceptionType.UNKNOWN_PROJECT,
        )
    with transaction.atomic():
        SyncState.objects.filter(
            content_type=ContentType.objects.get_for_model(Invoice),
            object_id=invoice.pk,
            system=system,
        ).update(outcome=SyncOutcome.STALE, external_id="")
    invoice_send(tx, invoice)
    return Outcome.APPLIED
