"""System-of-record rules: only a domain's owning system may change its data."""

from __future__ import annotations

from typing import TYPE_CHECKING

from integrations.choices import ErrorClass, ExceptionType
from integrations.errors import IntegrationError
from integrations.models import SystemOfRecord

if TYPE_CHECKING:
    from integrations.models import Transaction


def owner_of(domain: str) -> int | None:
    """The id of the system that owns ``domain``, if one does."""
    return SystemOfRecord.objects.filter(domain=domain).values_list("system_id", flat=True).first()


def ownership_check(*, tx: Transaction, domain: str) -> None:
    """Refuses ``tx`` with ``non_owner_update`` when another system owns ``domain``."""
    owner = SystemOfRecord.objects.filter(domain=domain).select_related("system").first()
    if owner is None or tx.source_system_id is None or owner.system_id == tx.source_system_id:
        return
    raise IntegrationError.business(
        f"{tx.source_system.slug} sent a {domain.replace('_', ' ')} update, but {owner.system.slug} "
        f"is the system of record for {owner.get_domain_display().lower()}; it was not applied.",
        code=ExceptionType.NON_OWNER_UPDATE,
        error_class=ErrorClass.DATA,
        details={"domain": domain, "owner": owner.system.slug, "sender": tx.source_system.slug},
    )
