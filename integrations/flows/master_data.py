"""Master-data sync: legal entities, customers, resources, rate cards and project changes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from canonical import services as canonical
from integrations.choices import Domain, Outcome
from integrations.flows import handles
from integrations.selectors import sync_state_for
from integrations.services.exceptions import exceptions_clear, waiting_key
from integrations.services.sync import sync_state_record

if TYPE_CHECKING:
    from integrations.models import Transaction


@handles("legal_entity.upserted", domain=Domain.LEGAL_ENTITY)
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


@handles("customer.upserted", domain=Domain.CUSTOMER)
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


@handles("resource.upserted", domain=Domain.RESOURCE)
def resource_sync(tx: Transaction) -> str:
    data = tx.normalized["data"]
    result = canonical.resource_upsert(
        employee_number=data["employee_number"],
        name=data["name"],
        role=data["role"],
        legal_entity_code=data["legal_entity"],
        email=data.get("email", ""),
        cost_rate=Decimal(str(data["cost_rate"])) if data.get("cost_rate") is not None else None,
        active=data.get("active", True),
        version=tx.event_version or 1,
        source_system=tx.source_system.slug,
    )
    if result.outcome == Outcome.APPLIED:
        exceptions_clear(
            waiting_on=waiting_key("resource", result.record.employee_number),
            resolution=f"Resource {result.record.employee_number} arrived from {tx.source_system.slug}.",
        )
    sync_state_record(
        record=result.record,
        system=tx.source_system,
        external_id=data.get("external_id") or data["employee_number"],
        version=tx.event_version,
        content=data,
        outcome=result.outcome,
        transaction=tx,
    )
    return result.outcome


@handles("rate_card.upserted", domain=Domain.RATE_CARD)
def rate_card_sync(tx: Transaction) -> str:
    data = tx.normalized["data"]
    lines = {line["role"]: Decimal(str(line["rate"])) for line in data["lines"]}
    result = canonical.rate_card_upsert(
        code=data["code"],
        name=data["name"],
        currency=data["currency"],
        legal_entity_code=data.get("legal_entity", ""),
        lines=lines,
        version=tx.event_version or 1,
        source_system=tx.source_system.slug,
    )
    if result.outcome == Outcome.APPLIED:
        code = result.record.code
        resolution = f"Rate card {code} arrived from {tx.source_system.slug}."
        exceptions_clear(waiting_on=waiting_key("rate_card", code), resolution=resolution)
        for role in lines:
            exceptions_clear(waiting_on=waiting_key("rate_card", code, role), resolution=resolution)
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


@handles("project.upserted", domain=Domain.PROJECT)
def project_sync(tx: Transaction) -> str:
    """A PSA's change to a project (status, dates, holds), judged against the PSA's own versions."""
    data = tx.normalized["data"]
    project = canonical.project_for(code=data["code"])
    held = sync_state_for(project, tx.source_system)
    version = tx.event_version or 1
    if held and held.last_version is not None and version <= held.last_version:
        return Outcome.STALE if version < held.last_version else Outcome.UNCHANGED
    project = canonical.project_change(
        code=data["code"],
        source_system=tx.source_system.slug,
        changes={
            "status": data["status"],
            "name": data.get("name"),
            "billable": data.get("billable"),
            "billing_hold": data.get("billing_hold"),
            "start_date": date.fromisoformat(data["start_date"])
            if data.get("start_date")
            else None,
            "end_date": date.fromisoformat(data["end_date"]) if data.get("end_date") else None,
        },
    )
    exceptions_clear(
        waiting_on=waiting_key("project", project.code),
        resolution=f"Project {project.code} changed in {tx.source_system.slug}.",
    )
    sync_state_record(
        record=project,
        system=tx.source_system,
        external_id=data.get("external_id") or data["code"],
        version=version,
        content=data,
        outcome=Outcome.APPLIED,
        transaction=tx,
    )
    return Outcome.APPLIED
