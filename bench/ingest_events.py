"""What the ingest case sends: batches of canonical events, serialized before the clock starts.

``master_data`` sends ``customer.upserted`` events as the CRM; ``time_to_billing`` sends
``time_entry.approved`` events as the PSA, on projects the case creates for the run.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

from bench.base import BenchError
from canonical.models import (
    Assignment,
    Contract,
    ContractVersion,
    Customer,
    Project,
    RateCard,
    Resource,
)
from controltower.operations.demo import LEGAL_ENTITIES as DEMO_LEGAL_ENTITIES
from integrations.models import ConnectedSystem

# The demo's legal entities (``load_demo``) and their currencies.
LEGAL_ENTITIES = tuple((code, currency) for code, _name, _country, currency in DEMO_LEGAL_ENTITIES)


def new_run_id() -> str:
    return f"bench-{uuid.uuid4().hex[:10]}"


def customer_event(run_id: str, index: int) -> dict[str, Any]:
    """One event shaped like ``tests.support.inbound.customer_event`` (canonical dialect)."""
    legal_entity, currency = LEGAL_ENTITIES[index % len(LEGAL_ENTITIES)]
    number = f"{run_id}-{index:07d}".upper()
    return {
        "type": "customer.upserted",
        "id": f"{run_id}-{index:07d}",
        "occurred_at": "2026-11-02T09:30:00Z",
        "version": 1,
        "data": {
            "number": number,
            "name": f"Customer {number} v1",
            "legal_entity": legal_entity,
            "currency": currency,
        },
    }


BENCH_PROJECTS = 10


def time_entry_event(run_id: str, index: int) -> dict[str, Any]:
    """Approved time on one of the run's projects, spread over the months of 2026."""
    return {
        "type": "time_entry.approved",
        "id": f"{run_id}-{index:07d}",
        "occurred_at": "2026-11-02T09:30:00Z",
        "version": 1,
        "data": {
            "number": f"{run_id}-T{index:07d}".upper(),
            "project": f"{run_id}-P{index % BENCH_PROJECTS}".upper(),
            "resource": "E-0002",
            "work_date": f"2026-{index // BENCH_PROJECTS % 12 + 1:02d}-{index % 28 + 1:02d}",
            "hours": 1 + index % 8,
            "billable": True,
        },
    }


def time_to_billing_setup(run_id: str) -> None:
    """Signed contracts with active projects and a Manager assigned, for the run's time."""
    customer = Customer.objects.select_related("legal_entity").get(number="C-1001")
    card = RateCard.objects.get(code="RC-US-STD")
    manager = Resource.objects.get(employee_number="E-0002")
    for n in range(BENCH_PROJECTS):
        contract = Contract.objects.create(
            number=f"{run_id}-K{n}".upper(),
            customer=customer,
            legal_entity=customer.legal_entity,
            rate_card=card,
            currency="USD",
            start_date=date(2026, 1, 1),
            status="signed",
            source_system="bench",
        )
        ContractVersion.objects.create(
            contract=contract, version=1, terms={"rates": {}}, effective_date=date(2026, 1, 1)
        )
        project = Project.objects.create(
            code=f"{run_id}-P{n}".upper(),
            name=f"Bench {n}",
            contract=contract,
            customer=customer,
            legal_entity=customer.legal_entity,
            status="active",
            start_date=date(2026, 1, 1),
            source_system="bench",
        )
        Assignment.objects.create(
            number=f"{run_id}-A{n}".upper(),
            project=project,
            resource=manager,
            role="Manager",
            start_date=date(2026, 1, 1),
            allocation_percent=50,
            source_system="bench",
        )


CASES: dict[str, tuple[str, Callable[[str, int], dict[str, Any]]]] = {
    "master_data": ("crm", customer_event),
    "time_to_billing": ("psa", time_entry_event),
}


def batch_bodies(run_id: str, events: int, batch: int, case: str = "master_data") -> list[bytes]:
    """The request bodies, serialized before the clock starts."""
    _, make = CASES[case]
    return [
        json.dumps(
            [make(run_id, i) for i in range(start, min(start + batch, events))],
            separators=(",", ":"),
        ).encode()
        for start in range(0, events, batch)
    ]


def signing_secret(system_slug: str) -> str:
    """The secret the tower checks for this system (CT_SECRET_<SLUG>, or the demo one)."""
    system = ConnectedSystem.objects.filter(slug=system_slug).first()
    if system is None:
        raise BenchError(f"No connected system {system_slug!r}; run `manage.py load_demo` first.")
    secrets = system.inbound_secrets()
    if not secrets:
        raise BenchError(f"No inbound secret for {system_slug!r}: set {system.secret_env_name}.")
    return secrets[0]
