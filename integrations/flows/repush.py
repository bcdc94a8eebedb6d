"""Re-push: a person asks for a record to be sent to the ERP or the PSA again.

The transaction (queued by ``controltower.operations.services.actions.record_repush``) names the
record and the target system. The target's sync state is marked stale first, so that
the usual once-per-version push sends the record even though the tower believed the
system held it; the push itself is the contract-to-project flow's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from canonical.models import Project
from integrations.choices import ErrorClass, ExceptionType, Outcome, SyncOutcome
from integrations.errors import IntegrationError
from integrations.flows.catalog import REPUSH_EVENT
from integrations.flows.contract_to_project import push_project, pushable_projects
from integrations.flows.registry import handles
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
        ).update(outcome=SyncOutcome.STALE)
    for project in found:
        push_project(tx, project.contract, project)
    return Outcome.APPLIED
