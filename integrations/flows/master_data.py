"""Master-data sync: legal entities and customers into canonical records."""

from __future__ import annotations

from typing import TYPE_CHECKING

from canonical import services as canonical
from integrations.choices import Outcome
from integrations.flows import handles
from integrations.services.exceptions import exceptions_clear, waiting_key
from integrations.services.sync import sync_state_record

if TYPE_CHECKING:
    from integrations.models import Transaction


@handles("legal_entity.upserted")
def legal_entity_sync(tx: Transaction) -> str:
    data = tx.normalized["data"]
    result = canonical.legal_entity_upsert(
        code=data["code"],
        name=data["name"],
        country=data["country"],
        currency=data["currency"],
        active=data.get("active", True),
        version=tx.event_version or 1,
        source_system=tx.source_system.slug,
    )
    if result.outcome == Outcome.APPLIED and result.record.active:
        exceptions_clear(
            waiting_on=waiting_key("legal_entity", result.record.code),
            resolution=f"Legal entity {result.record.code} arrived from {tx.source_system.slug}.",
        )
    sync_state_record(
        record=result.record,
        system=tx.source_system,
        external_id=data.get("external_id") or data["code"],
        version=tx.event_version,
        content=data,
        outcome=result.outcome,
        transaction=tx,
    )
    return result.outcome


@handles("customer.upserted")
def customer_sync(tx: Transaction) -> str:
    data = tx.normalized["data"]
    result = canonical.customer_upsert(
        number=data["number"],
        name=data["name"],
        legal_entity_code=data["legal_entity"],
        currency=data["currency"],
        active=data.get("active", True),
        version=tx.event_version or 1,
        source_system=tx.source_system.slug,
    )
    if result.outcome == Outcome.APPLIED:
        exceptions_clear(
            waiting_on=waiting_key("customer", result.record.number),
            resolution=f"Customer {result.record.number} arrived from {tx.source_system.slug}.",
        )
    sync_state_record(
        record=result.record,
        system=tx.source_system,
        external_id=data.get("external_id") or data["number"],
        version=tx.event_version,
        content=data,
        outcome=result.outcome,
        transaction=tx,
    )
    return result.outcome
