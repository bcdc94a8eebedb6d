"""A replay that succeeds replaces its original and closes the original's exception; a replay
that fails leaves the original as it was; a double click makes one replay. Through the real
flow: signed events at the door, the simulated ERP and PSA over HTTP."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from canonical.errors import ConflictError
from controltower.operations.choices import SlaState
from controltower.operations.models import AuditEvent, BusinessException, SlaBreach
from controltower.operations.services.actions import transaction_replay
from controltower.operations.services.approvals import exception_approve
from controltower.operations.services.sla import sla_sweep
from integrations.choices import ExceptionStatus, TransactionState
from integrations.models import Attempt, Transaction
from integrations.selectors.transactions import transaction_lineage
from integrations.services.processing import transactions_process
from tests.factories.operations import SlaPolicyFactory
from tests.support.inbound import contract_event, customer_event, event, events_run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def blocked(simulator) -> Transaction:
    """A customer event blocked by the unknown legal entity ZZ99, its exception open."""
    [tx] = events_run(customer_event("C-7401", legal_entity="ZZ99"))
    assert tx.state == TransactionState.BLOCKED and tx.exception_id, tx.last_error
    return tx


def corrected(tx: Transaction) -> dict:
    return {**tx.normalized, "data": {**tx.normalized["data"], "legal_entity": "GB01"}}


def test_a_replay_that_succeeds_replaces_the_original_and_resolves_its_exception(blocked, operator):
    replay = transaction_replay(
        transaction_id=blocked.pk, actor=operator, payload=corrected(blocked), reason="GB01"
    )
    transactions_process(ids=[replay.pk])
    replay.refresh_from_db()
    blocked.refresh_from_db()
    assert replay.state == TransactionState.SUCCEEDED, replay.last_error
    assert (blocked.state, blocked.replaced_by_id, replay.parent_id) == (
        TransactionState.REPLACED,
        replay.pk,
        blocked.pk,
    )
    assert blocked.finished_at is not None
    exc = BusinessException.objects.get(pk=blocked.exception_id)
    assert exc.status == ExceptionStatus.RESOLVED
    assert exc.resolution == (
        f"Transaction #{blocked.pk} was replaced by replay #{replay.pk}, which succeeded."
    )
    audit = AuditEvent.objects.get(action="exception.resolve_by_fix", object_id=str(exc.pk))
    assert audit.before == {"status": "open"} and audit.after["status"] == "resolved"


def test_a_replaced_originals_sla_breach_is_no_longer_open(blocked, operator):
    exc = BusinessException.objects.get(pk=blocked.exception_id)
    SlaPolicyFactory(
        for_exceptions=True, name="Any exception in 1 h", exception_type="", target_minutes=60
    )
    BusinessException.objects.filter(pk=exc.pk).update(sla_policy=None, sla_due_at=None)
    with time_machine.travel(timezone.now() + dt.timedelta(hours=3), tick=False):
        sla_sweep()
    breach = SlaBreach.objects.get(exception=exc)
    assert breach.state == SlaState.BREACHED and breach.met_at is None

    replay = transaction_replay(
        transaction_id=blocked.pk, actor=operator, payload=corrected(blocked), reason="GB01"
    )
    transactions_process(ids=[replay.pk])
    sla_sweep()
    breach.refresh_from_db()
    assert breach.met_at is not None
    assert not SlaBreach.objects.filter(exception=exc, met_at__isnull=True).exists()


def test_a_replay_that_fails_leaves_the_original_as_it_was(blocked, operator):
    replay = transaction_replay(transaction_id=blocked.pk, actor=operator, reason="try again")
    transactions_process(ids=[replay.pk])
    replay.refresh_from_db()
    blocked.refresh_from_db()
    assert replay.state == TransactionState.BLOCKED
    assert (blocked.state, blocked.replaced_by_id) == (TransactionState.BLOCKED, None)
    exc = BusinessException.objects.get(pk=blocked.exception_id)
    assert exc.status == ExceptionStatus.OPEN and exc.resolution == ""


def test_a_replay_of_a_stopped_replay_that_succeeds_replaces_both(blocked, operator):
    first = transaction_replay(transaction_id=blocked.pk, actor=operator)
    transactions_process(ids=[first.pk])
    first.refresh_from_db()
    assert (first.state, first.exception_id) == (TransactionState.BLOCKED, blocked.exception_id)
    second = transaction_replay(transaction_id=first.pk, actor=operator, payload=corrected(first))
    transactions_process(ids=[second.pk])
    settled = dict(
        Transaction.objects.filter(pk__in=[blocked.pk, first.pk]).values_list(
            "pk", "replaced_by_id"
        )
    )
    assert settled == {blocked.pk: second.pk, first.pk: second.pk}
    assert set(
        Transaction.objects.filter(pk__in=[blocked.pk, first.pk]).values_list("state", flat=True)
    ) == {TransactionState.REPLACED}
    exc = BusinessException.objects.get(pk=blocked.exception_id)
    assert exc.status == ExceptionStatus.RESOLVED
    assert exc.resolution == (
        f"Transaction #{blocked.pk} was replaced by replay #{second.pk}, which succeeded."
    )


def test_an_exception_that_still_holds_other_work_stays_open(blocked, operator):
    [other] = events_run(customer_event("C-7402", legal_entity="ZZ99"))
    assert other.exception_id == blocked.exception_id  # the same missing legal entity
    replay = transaction_replay(
        transaction_id=blocked.pk, actor=operator, payload=corrected(blocked), reason="GB01"
    )
    transactions_process(ids=[replay.pk])
    blocked.refresh_from_db()
    other.refresh_from_db()
    assert blocked.state == TransactionState.REPLACED
    assert other.state == TransactionState.BLOCKED
    assert BusinessException.objects.get(pk=blocked.exception_id).status == ExceptionStatus.OPEN


def test_replays_applied_together_in_a_batch_replace_each_original(blocked, operator):
    [other] = events_run(customer_event("C-7403", legal_entity="ZZ98"))
    replays = [
        transaction_replay(transaction_id=tx.pk, actor=operator, payload=corrected(tx))
        for tx in (blocked, other)
    ]
    summary = transactions_process(ids=[replay.pk for replay in replays])
    assert summary.succeeded == 2
    # Applied together: one attempt start for both (one by one, each has its own).
    starts = Attempt.objects.filter(transaction__in=replays).values_list("started_at", flat=True)
    assert len(starts) == 2 and len(set(starts)) == 1
    settled = dict(
        Transaction.objects.filter(pk__in=[blocked.pk, other.pk]).values_list(
            "pk", "replaced_by_id"
        )
    )
    assert settled == {blocked.pk: replays[0].pk, other.pk: replays[1].pk}
    assert set(
        BusinessException.objects.filter(
            pk__in=[blocked.exception_id, other.exception_id]
        ).values_list("status", flat=True)
    ) == {ExceptionStatus.RESOLVED}


def test_a_replaced_originals_flow_sla_breach_is_met(blocked, operator):
    SlaPolicyFactory(flow="master_data_sync", name="Customers in 1 h", target_minutes=60)
    with time_machine.travel(timezone.now() + dt.timedelta(hours=3), tick=False):
        sla_sweep()
    breach = SlaBreach.objects.get(transaction=blocked)
    assert breach.met_at is None
    replay = transaction_replay(
        transaction_id=blocked.pk, actor=operator, payload=corrected(blocked), reason="GB01"
    )
    transactions_process(ids=[replay.pk])
    sla_sweep()
    breach.refresh_from_db()
    assert breach.met_at is not None


def test_a_double_clicked_replay_makes_one_replay(blocked, operator, api_client_for):
    client = api_client_for(operator)
    first = client.post(f"/api/v1/transactions/{blocked.pk}/replay/", {"reason": "once"})
    second = client.post(f"/api/v1/transactions/{blocked.pk}/replay/", {"reason": "twice"})
    assert first.status_code == 201, first.content
    replay_id = first.json()["id"]
    assert second.status_code == 409
    assert second.json()["message"] == (
        f"A replay of transaction {blocked.pk} is already running: #{replay_id}."
    )
    assert list(Transaction.objects.filter(parent=blocked).values_list("pk", flat=True)) == [
        replay_id
    ]
    assert AuditEvent.objects.filter(action="transaction.replay").count() == 1


def test_once_the_replay_has_run_another_replay_may_be_made(blocked, operator):
    first = transaction_replay(transaction_id=blocked.pk, actor=operator)
    with pytest.raises(ConflictError):
        transaction_replay(transaction_id=blocked.pk, actor=operator)
    transactions_process(ids=[first.pk])  # blocked again: it is no longer running
    second = transaction_replay(
        transaction_id=blocked.pk, actor=operator, payload=corrected(blocked)
    )
    assert second.pk != first.pk and second.parent_id == blocked.pk


def test_the_api_links_the_original_and_its_replacement_both_ways(
    blocked, operator, api_client_for
):
    replay = transaction_replay(
        transaction_id=blocked.pk, actor=operator, payload=corrected(blocked), reason="GB01"
    )
    transactions_process(ids=[replay.pk])
    client = api_client_for(operator)
    original = client.get(f"/api/v1/transactions/{blocked.pk}/").json()
    replacement = client.get(f"/api/v1/transactions/{replay.pk}/").json()
    assert (original["state"], original["replaced_by"]) == ("replaced", replay.pk)
    assert (replacement["state"], replacement["parent"], replacement["replaced_by"]) == (
        "succeeded",
        blocked.pk,
        None,
    )
    listed = client.get("/api/v1/transactions/?state=replaced").json()
    assert [row["id"] for row in listed["results"]] == [blocked.pk]


def test_the_detail_pages_show_the_replacement_both_ways(blocked, operator, client):
    replay = transaction_replay(
        transaction_id=blocked.pk, actor=operator, payload=corrected(blocked), reason="GB01"
    )
    transactions_process(ids=[replay.pk])
    client.force_login(operator)
    original = client.get(f"/transactions/{blocked.pk}/").content.decode()
    assert "Replaced by a replay" in original
    assert f'href="/transactions/{replay.pk}/" data-replaced-by>#{replay.pk}</a>' in original
    assert "replaced this one" in original  # in its replays and its lineage
    replacement = client.get(f"/transactions/{replay.pk}/").content.decode()
    assert (
        f'href="/transactions/{blocked.pk}/" data-replays>#{blocked.pk}</a>, which it replaced'
        in replacement
    )


def test_a_second_click_on_the_page_says_which_replay_is_running(blocked, operator, client):
    client.force_login(operator)
    url = f"/transactions/{blocked.pk}/replay/"
    first = client.post(url, {"replay-reason": "once"})
    replay = Transaction.objects.get(parent=blocked)
    assert first.status_code == 302 and first["Location"] == f"/transactions/{replay.pk}/"
    second = client.post(url, {"replay-reason": "twice"})
    assert second.status_code == 409
    assert (
        f"A replay of transaction {blocked.pk} is already running: #{replay.pk}."
        in second.content.decode()
    )
    assert Transaction.objects.filter(parent=blocked).count() == 1


def time_entry(number: str, resource: str) -> dict:
    return event(
        "time_entry.approved",
        {
            "number": number,
            "project": "P-K-7401",
            "resource": resource,
            "work_date": "2026-11-03",
            "hours": 6,
            "billable": True,
        },
    )


def test_an_edited_time_replay_approved_by_a_second_approver_replaces_the_original(
    simulator, user_with_role
):
    [signed] = events_run(contract_event("K-7401"), system="clm")
    assert signed.state == TransactionState.SUCCEEDED, signed.last_error
    assignment = event(
        "assignment.upserted",
        {
            "number": "A-7401",
            "project": "P-K-7401",
            "resource": "E-0002",
            "role": "Manager",
            "start_date": "2026-11-02",
            "allocation_percent": 50,
        },
    )
    [staffing] = events_run(assignment, system="psa")
    assert staffing.state == TransactionState.SUCCEEDED, staffing.last_error
    [original] = events_run(time_entry("T-7401", resource="E-0003"), system="psa")
    assert original.state == TransactionState.BLOCKED, original.last_error
    held_by = original.exception_id

    ada, bob = user_with_role("approver"), user_with_role("approver")
    edited = {**original.normalized, "data": {**original.normalized["data"], "resource": "E-0002"}}
    replay = transaction_replay(
        transaction_id=original.pk, actor=ada, payload=edited, reason="Grace did the work"
    )
    assert replay.state == TransactionState.AWAITING_APPROVAL
    original.refresh_from_db()
    assert original.state == TransactionState.BLOCKED  # nothing is settled before it runs
    exception_approve(exception_id=replay.exception_id, actor=bob, reason="matches the PSA")
    transactions_process(ids=[replay.pk])
    replay.refresh_from_db()
    original.refresh_from_db()
    assert replay.state == TransactionState.SUCCEEDED, replay.last_error
    assert (original.state, original.replaced_by_id) == (TransactionState.REPLACED, replay.pk)
    exc = BusinessException.objects.get(pk=held_by)
    assert exc.status == ExceptionStatus.RESOLVED
    assert f"replaced by replay #{replay.pk}" in exc.resolution
    # The blocked original never reached its contract; its lineage is its replacement's.
    lineage = transaction_lineage(tx=Transaction.objects.get(pk=original.pk))
    assert replay.pk in [tx.pk for tx in lineage["transactions"]]
    assert lineage["contract"].number == "K-7401"
    assert original.pk in [tx.pk for tx in transaction_lineage(tx=replay)["transactions"]]
