"""Approved time set-based (``time_entry_approved_batch``): a chunk ends as the same entries,
one by one, would end, in a number of statements that does not grow with the chunk."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from canonical.choices import BillingModel, ProjectStatus
from canonical.models import Customer, Invoice, LegalEntity, TimeEntry
from integrations.models import SyncState, Transaction
from integrations.services.processing import (
    transaction_run,
    transactions_claim,
    transactions_process,
)
from integrations.services.sync import content_hash
from tests.factories.canonical import (
    AssignmentFactory,
    ContractFactory,
    ContractVersionFactory,
    CustomerFactory,
    ProjectFactory,
    RateCardFactory,
    RateCardLineFactory,
    ResourceFactory,
)
from tests.support.inbound import event, events_send

pytestmark = pytest.mark.django_db

_runs = itertools.count(1)

# The projects of a world: how each bills, and what stands in its time's way.
PROJECTS = {
    "TM": {},
    "CAP": {"cap_amount": Decimal("2500.00")},
    "FIXED": {"billing_model": BillingModel.FIXED_FEE},
    "HELD": {"billing_hold": True},
    "CLOSED": {"status": ProjectStatus.CLOSED, "closed_on": date(2026, 10, 15)},
    "RETAINER": {"billing_model": BillingModel.RETAINER, "included_hours": Decimal("10")},
    "NOCONTRACT": {"contract": None},
}
# Who works: a Consultant everywhere, an Architect at her own rate on two projects, a
# Designer no rate card prices, one assigned nowhere, and one who left.
RESOURCES = ("CONSULTANT", "ARCHITECT", "DESIGNER", "UNASSIGNED", "INACTIVE")


def world(prefix: str) -> None:
    """One firm's projects and people, every key beginning with ``prefix``."""
    entity = LegalEntity.objects.get(code="US01")
    customer = CustomerFactory(number=f"{prefix}-C", legal_entity=entity, currency="USD")
    card = RateCardFactory(code=f"{prefix}-RC", currency="USD", legal_entity=entity)
    RateCardLineFactory(rate_card=card, role="Consultant", rate=Decimal("150.00"))
    RateCardLineFactory(rate_card=card, role="Architect", rate=Decimal("200.00"))
    people = {
        name: ResourceFactory(
            employee_number=f"{prefix}-{name}",
            name=name.title(),
            role=name.title(),
            legal_entity=entity,
            cost_rate=Decimal("80.00") if name != "ARCHITECT" else None,
            active=name != "INACTIVE",
        )
        for name in RESOURCES
    }
    for name, terms in PROJECTS.items():
        project_terms = {k: terms[k] for k in ("status", "closed_on", "billing_hold") if k in terms}
        contract = None
        if "contract" not in terms:
            contract = ContractFactory(
                number=f"{prefix}-K-{name}",
                customer=customer,
                rate_card=card,
                start_date=date(2026, 1, 1),
                status="signed",
                billing_model=terms.get("billing_model", BillingModel.TIME_AND_MATERIALS),
                cap_amount=terms.get("cap_amount"),
                included_hours=terms.get("included_hours"),
                monthly_fee=Decimal("1000.00") if "included_hours" in terms else None,
                correlation_id=f"{prefix}-K-{name}",
            )
            ContractVersionFactory(contract=contract, version=1, terms={"rates": {}})
        project = ProjectFactory(
            code=f"{prefix}-P-{name}",
            contract=contract,
            customer=customer,
            legal_entity=entity,
            start_date=date(2026, 1, 1),
            **{"status": ProjectStatus.ACTIVE, **project_terms},
        )
        for who in ("CONSULTANT", "DESIGNER", "INACTIVE"):
            AssignmentFactory(
                number=f"{prefix}-A-{name}-{who}",
                project=project,
                resource=people[who],
                start_date=date(2026, 1, 1),
            )
        if name in ("TM", "CAP"):
            AssignmentFactory(
                number=f"{prefix}-A-{name}-ARCHITECT",
                project=project,
                resource=people["ARCHITECT"],
                start_date=date(2026, 10, 1),
                bill_rate=Decimal("180.00"),
            )


entry_st = st.tuples(
    st.integers(0, 9),  # entry number: some are named twice, in one chunk or two
    st.integers(1, 3),  # version
    st.sampled_from(sorted(PROJECTS)),
    st.sampled_from(RESOURCES),
    st.sampled_from([date(2026, 9, 20), date(2026, 10, 3), date(2026, 10, 28), date(2026, 11, 4)]),
    st.sampled_from([0.5, 2, 7.25, 8]),
    st.booleans(),  # billable
)


def time_events(prefix: str, entries, start: int, run: str = "") -> list[dict]:
    """Approved time in the world of ``prefix``; ``run`` tells one example's entries from
    another's."""
    return [
        event(
            "time_entry.approved",
            {
                "number": f"{prefix}-T{run}{number}",
                "project": f"{prefix}-P-{project}",
                "resource": f"{prefix}-{who}",
                "work_date": day.isoformat(),
                "hours": hours,
                "billable": billable,
            },
            version=version,
            event_id=f"{prefix}-e{run}-{start + i}",
        )
        for i, (number, version, project, who, day, hours, billable) in enumerate(entries)
    ]


def one_by_one(ids: list[int]) -> None:
    for tx in sorted(transactions_claim(ids=ids), key=lambda tx: tx.pk):
        transaction_run(tx)


def snapshot(prefix: str, ids: list[int]) -> dict:
    """What the chunks left, every key with ``prefix`` replaced, for comparing two worlds."""

    def plain(value):
        return str(value).replace(prefix, "W")

    entries = {
        plain(e.number): (
            plain(e.project.code),
            plain(e.resource.employee_number),
            plain(e.assignment.number if e.assignment else None),
            e.work_date,
            e.hours,
            e.billable,
            e.retainer_hours,
            e.cost_rate,
            e.cost,
            e.version,
            e.status,
            plain(e.invoice.number if e.invoice else None),
        )
        for e in TimeEntry.objects.filter(number__startswith=prefix).select_related(
            "project", "resource", "assignment", "invoice"
        )
    }
    invoices = {
        plain(i.number): (
            i.status,
            i.amount,
            i.version,
            i.period_start,
            i.currency,
            [
                (
                    plain(line.description),
                    line.quantity,
                    line.rate,
                    line.amount,
                    plain(line.time_entry.number if line.time_entry else None),
                )
                for line in i.lines.select_related("time_entry").order_by("id")
            ],
        )
        for i in Invoice.objects.filter(number__contains=prefix)
    }
    states = {}
    for state in SyncState.objects.filter(
        content_type__model="timeentry",
        object_id__in=TimeEntry.objects.filter(number__startswith=prefix).values("pk"),
    ).select_related("last_transaction"):
        data = state.last_transaction.normalized["data"]
        assert state.content_hash == content_hash(data)
        states[plain(data["number"])] = (
            plain(state.external_id),
            state.last_version,
            state.source_version,
            state.outcome,
            plain(state.last_transaction.idempotency_key),
        )
    transactions = [
        (
            tx.state,
            tx.outcome,
            tx.error_code,
            plain(tx.last_error),
            tx.attempts_count,
            plain(tx.correlation_id) if tx.correlation_id.startswith(prefix) else "",
            (
                tx.exception.exception_type,
                plain(tx.exception.message),
                plain(tx.exception.waiting_on),
                tx.exception.money_at_risk,
                tx.exception.currency,
                plain(tx.exception.details),
                tx.exception.status,
            )
            if tx.exception
            else None,
        )
        for tx in Transaction.objects.filter(pk__in=ids).select_related("exception").order_by("pk")
    ]
    return {"entries": entries, "invoices": invoices, "states": states, "txs": transactions}


@settings(
    max_examples=5,
    deadline=None,
    phases=(Phase.explicit, Phase.generate),
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    first=st.lists(entry_st, min_size=2, max_size=10),
    second=st.lists(entry_st, min_size=2, max_size=6),
)
def test_a_chunk_of_approved_time_ends_as_its_entries_one_by_one_would(demo, caplog, first, second):
    """Two worlds of the same data: the chunks of one go the set-based way, the other's one
    by one; entries, candidates and their lines, sync states, transactions and their
    exceptions come out the same (two chunks, so that the second meets what the first
    wrote: newer, equal and older versions of held entries)."""
    # Both worlds are built once for all examples and live through the same examples, so
    # they stay alike: what earlier examples billed (towards the cap, on the candidates)
    # is met by the later ones.
    batch, single = "QB", "QS"
    if not Customer.objects.filter(number="QB-C").exists():
        world(batch)
        world(single)
    run = f"R{next(_runs)}-"
    ids: dict[str, list[int]] = {batch: [], single: []}
    for start, chunk in ((0, first), (100, second)):
        sent = events_send(*time_events(batch, chunk, start, run), system="psa", process=False)
        transactions_process(ids=sent)
        ids[batch] += sent
        sent = events_send(*time_events(single, chunk, start, run), system="psa", process=False)
        one_by_one(sent)
        ids[single] += sent
    assert snapshot(batch, ids[batch]) == snapshot(single, ids[single])
    # The chunks went the set-based way (a failure of it would fall back whole, unseen).
    assert not [r for r in caplog.records if "fell back to one by one" in r.getMessage()]


def chunk_statements(prefix: str, first: int, size: int) -> int:
    """The statements a chunk of ``size`` new billable entries on two projects costs to process
    (claimed, applied, recorded)."""
    entries = [
        (first + i, 1, ("TM", "FIXED")[i % 2], "CONSULTANT", date(2026, 10, 3 + i % 20), 1, True)
        for i in range(size)
    ]
    ids = events_send(*time_events(prefix, entries, first), system="psa", process=False)
    with CaptureQueriesContext(connection) as queries:
        summary = transactions_process(ids=ids)
    assert summary.succeeded == size
    return len(queries)


def test_a_chunk_costs_the_same_statements_for_ten_entries_as_for_fifty(demo):
    world("QN")
    chunk_statements("QN", 0, 2)  # what is read once per process (content types) is read
    ten, fifty = chunk_statements("QN", 100, 10), chunk_statements("QN", 200, 50)
    assert ten == fifty
    assert TimeEntry.objects.filter(number__startswith="QN").count() == 62
