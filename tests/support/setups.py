"""A project set up: its contract signed at one moment, and the project written to the ERP
and the PSA at others (each sync state's ``synced_at``), as the contract-to-project flow
leaves them."""

from __future__ import annotations

from datetime import datetime

from django.contrib.contenttypes.models import ContentType

from canonical.models import Project
from integrations.choices import SyncOutcome, SystemKind
from integrations.models import ConnectedSystem, SyncState
from tests.factories.canonical import ContractFactory, ProjectFactory


def project_set_up(
    *, signed_at: datetime, erp_at: datetime | None, psa_at: datetime | None, **project
) -> Project:
    """A project whose contract was signed at ``signed_at``, in the ERP since ``erp_at`` and
    in the PSA since ``psa_at`` (None: not there)."""
    contract = project.pop("contract", None) or ContractFactory(signed_at=signed_at)
    made = ProjectFactory(contract=contract, **project)
    kind = ContentType.objects.get_for_model(Project)
    for system_kind, synced_at in ((SystemKind.ERP, erp_at), (SystemKind.PSA, psa_at)):
        if synced_at is None:
            continue
        system, _ = ConnectedSystem.objects.get_or_create(
            slug=system_kind, defaults={"name": system_kind.upper(), "kind": system_kind}
        )
        SyncState.objects.create(
            content_type=kind,
            object_id=made.pk,
            system=system,
            external_id=made.code,
            synced_at=synced_at,
            outcome=SyncOutcome.SYNCED,
        )
    return made
