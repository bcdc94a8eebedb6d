"""Working exceptions: ownership routing, the lifecycle, fixes that resolve, bulk actions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from canonical.errors import ApplicationError, InvalidStateError
from canonical.models import Customer, LegalEntity
from controltower.operations.choices import BulkStatus
from controltower.operations.models import (
    AuditEvent,
    BulkOperation,
    BusinessException,
    OwnershipRule,
    Team,
)
from controltower.operations.services.bulk import (
    bulk_operation_run,
    bulk_operation_start,
    bulk_operations_resume,
)
from controltower.operations.services.exceptions import (
    exception_assign,
    exception_comment,
    exception_dismiss,
    exception_reopen,
    exception_resolve,
    exception_snooze,
)
from controltower.operations.services.routing import exceptions_reroute, rule_preview, team_for
from integrations.choices import ExceptionStatus, ExceptionType, TransactionState
from integrations.models import ConnectedSystem, Flow, Transaction
from integrations.services.processing import transactions_process
from tests.support.inbound import customer_event, events_run, legal_entity_event
from tests.support.worker import wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def teams(demo):
    return {
        "support": Team.objects.create(name="Integration support", is_default=True),
        "masterdata": Team.objects.create(name="Master data"),
        "us_finance": Team.objects.create(name="US finance"),
    }


def test_a_new_exception_lands_in_the_most_specific_owning_teams_queue(demo, teams):
    OwnershipRule.objects.create(team=teams["masterdata"], flow="master_data_sync")
    OwnershipRule.objects.create(
        team=teams["us_finance"],
        flow="master_data_sync",
        customer=Customer.objects.get(number="C-1001"),
    )
    [renamed] = events_run(
        customer_event("C-1001", name="Renamed by the ERP", version=9), system="erp"
    )
    [foreign] = events_run(customer_event("C-9301", legal_entity="FR77"))
    assert (
        renamed.exception.businessexception.team == teams["us_finance"]
    )  # customer beats flow alone
    assert foreign.exception.businessexception.team == teams["masterdata"]
    assert renamed.exception.record == Customer.objects.get(number="C-1001")
    assert renamed.exception.customer.number == "C-1001"
    assert renamed.exception.legal_entity == Customer.objects.get(number="C-1001").legal_entity


def test_an_exception_no_rule_matches_goes_to_the_default_team(demo, teams):
    [tx] = events_run(customer_event("C-9302", legal_entity="FR78"))
    assert tx.exception.businessexception.team == teams["support"]


def test_a_rule_preview_shows_what_it_would_take_and_reroute_moves_it_on_request(
    demo, teams, operator
):
    [tx] = events_run(customer_event("C-9303", legal_entity="FR79"))
    exc = tx.exception.businessexception
    rule = OwnershipRule(
        team=teams["masterdata"], exception_type=ExceptionType.INVALID_LEGAL_ENTITY
    )
    assert rule_preview(rule=rule) == [exc]
    rule.save()
    exc.refresh_from_db()
    assert exc.team == teams["support"]  # saving a rule does not move open work by itself
    assert exceptions_reroute(actor=operator, reason="new rule") == 1
    exc.refresh_from_db()
    assert exc.team == teams["masterdata"]
    assert AuditEvent.objects.filter(action="exception.reroute", object_id=str(exc.pk)).exists()


def test_team_for_breaks_equal_specificity_by_priority(teams):
    OwnershipRule.objects.create(team=teams["masterdata"], flow="time_to_billing")
    OwnershipRule.objects.create(team=teams["us_finance"], flow="time_to_billing", priority=5)
    assert team_for(flow="time_to_billing") == teams["us_finance"]
    entity = LegalEntity.objects.get(code="US01")
    OwnershipRule.objects.create(team=teams["masterdata"], legal_entity=entity)
    assert team_for(flow="time_to_billing", legal_entity_id=entity.pk) == teams["masterdata"]


def test_a_support_user_assigns_comments_and_fixes_the_cause_and_the_work_reruns(
    demo, teams, operator
):
    blocked = events_run(
        customer_event("C-9304", legal_entity="FR80"), customer_event("C-9305", legal_entity="FR80")
    )
    exc = blocked[0].exception.businessexception
    exception_assign(exception_id=exc.pk, actor=operator, assignee_id=operator.pk)
    exception_comment(exception_id=exc.pk, actor=operator, body="Asking the ERP team for FR80.")
    exc.refresh_from_db()
    assert (exc.status, exc.assignee) == (ExceptionStatus.IN_PROGRESS, operator)
    events_run(legal_entity_event("FR80"), system="erp")
    exc.refresh_from_db()
    assert exc.status == ExceptionStatus.RESOLVED and exc.resolved_by is None
    transactions_process(ids=[tx.pk for tx in blocked])
    assert {tx.state for tx in Transaction.objects.filter(pk__in=[t.pk for t in blocked])} == {
        TransactionState.SUCCEEDED
    }
    actions = set(AuditEvent.objects.filter(object_id=str(exc.pk)).values_list("action", flat=True))
    assert {"exception.assign", "exception.comment", "exception.resolve_by_fix"} <= actions


def test_resolving_by_hand_reruns_the_held_transactions(demo, teams, operator):
    [tx] = events_run(customer_event("C-9306", legal_entity="FR81"))
    LegalEntity.objects.create(code="FR81", name="France 81", country="FR", currency="EUR")
    exception_resolve(exception_id=tx.exception_id, actor=operator, resolution="Created FR81.")
    tx.refresh_from_db()
    assert tx.state == TransactionState.RECEIVED
    transactions_process(ids=[tx.pk])
    tx.refresh_from_db()
    assert tx.state == TransactionState.SUCCEEDED
    assert tx.exception.resolved_by == operator


def test_dismissing_cancels_the_held_transactions_with_the_reason(demo, teams, operator):
    [tx] = events_run(customer_event("C-9307", legal_entity="FR82"))
    with pytest.raises(ApplicationError, match="reason is required"):
        exception_dismiss(exception_id=tx.exception_id, actor=operator, reason=" ")
    exception_dismiss(exception_id=tx.exception_id, actor=operator, reason="Test customer.")
    tx.refresh_from_db()
    assert tx.state == TransactionState.CANCELLED and "Test customer." in tx.last_error
    assert tx.exception.status == ExceptionStatus.DISMISSED


def test_a_closed_exception_can_be_reopened_unless_its_cause_is_open_again(demo, teams, operator):
    [first] = events_run(customer_event("C-9308", legal_entity="FR83"))
    exception_dismiss(exception_id=first.exception_id, actor=operator, reason="Not ours.")
    exception_reopen(exception_id=first.exception_id, actor=operator, reason="It is ours.")
    assert BusinessException.objects.get(pk=first.exception_id).status == ExceptionStatus.OPEN
    exception_dismiss(exception_id=first.exception_id, actor=operator, reason="Not ours.")
    events_run(customer_event("C-9309", legal_entity="FR83"))  # the same cause opens a new one
    with pytest.raises(InvalidStateError, match="already open for the same cause"):
        exception_reopen(exception_id=first.exception_id, actor=operator, reason="Again.")


def test_a_snoozed_exception_is_held_until_its_time_not_lost(demo, teams, operator):
    [tx] = events_run(customer_event("C-9310", legal_entity="FR84"))
    with pytest.raises(ApplicationError, match="future"):
        exception_snooze(
            exception_id=tx.exception_id, actor=operator, until=timezone.now() - timedelta(1)
        )
    until = timezone.now() + timedelta(hours=4)
    exception_snooze(exception_id=tx.exception_id, actor=operator, until=until, reason="Monday")
    exc = BusinessException.objects.get(pk=tx.exception_id)
    assert exc.is_snoozed and exc.status == ExceptionStatus.OPEN
    exception_snooze(exception_id=exc.pk, actor=operator, until=None)
    exc.refresh_from_db()
    assert not exc.is_snoozed


def test_only_a_person_with_the_operator_role_can_be_assigned(
    demo, teams, operator, user_with_role
):
    [tx] = events_run(customer_event("C-9311", legal_entity="FR85"))
    viewer = user_with_role("viewer")
    with pytest.raises(ApplicationError, match="operator role"):
        exception_assign(exception_id=tx.exception_id, actor=operator, assignee_id=viewer.pk)


def _many_blocked(count: int) -> list[BusinessException]:
    flow = Flow.objects.get(kind="master_data_sync")
    crm = ConnectedSystem.objects.get(slug="crm")
    # One by one: an exception is two rows (the engine's record and its extension here).
    exceptions = [
        BusinessException.objects.create(
            exception_type=ExceptionType.INVALID_LEGAL_ENTITY,
            flow=flow.kind,
            message=f"Entity X{i} is unknown.",
            fingerprint=f"bulk|{i}",
            business_key=f"C-B{i}",
        )
        for i in range(count)
    ]
    Transaction.objects.bulk_create(
        Transaction(
            flow=flow,
            source_system=crm,
            event_type="customer.upserted",
            business_key=exc.business_key,
            correlation_id=f"bulk-{exc.pk}",
            state=TransactionState.BLOCKED,
            exception=exc,
            # The cause is fixed already (US01 exists): a retry succeeds.
            normalized=customer_event(exc.business_key, legal_entity="US01"),
        )
        for exc in exceptions
    )
    return exceptions


def test_a_bulk_dismiss_by_filter_takes_500_exceptions_with_progress(demo, operator):
    _many_blocked(500)
    operation = bulk_operation_start(
        actor=operator,
        action="dismiss",
        filters={"exception_type": ["invalid_legal_entity"]},
        params={"reason": "Test data from the sandbox."},
    )
    assert operation.total == 500 and operation.status == BulkStatus.QUEUED
    assert bulk_operation_run(operation_id=operation.pk) == {"done": 500, "failed": 0}
    operation.refresh_from_db()
    assert (operation.status, operation.done, operation.progress) == (BulkStatus.DONE, 500, 100)
    assert BusinessException.objects.filter(status=ExceptionStatus.DISMISSED).count() == 500
    assert Transaction.objects.filter(state=TransactionState.CANCELLED).count() == 500
    assert bulk_operation_run(operation_id=operation.pk) == {"done": 0, "failed": 0}


def test_a_bulk_assign_records_the_items_it_could_not_take(demo, operator):
    exceptions = _many_blocked(3)
    BusinessException.objects.filter(pk=exceptions[0].pk).update(status=ExceptionStatus.RESOLVED)
    operation = bulk_operation_start(
        actor=operator,
        action="assign",
        ids=[e.pk for e in exceptions],
        params={"assignee_id": operator.pk},
    )
    assert bulk_operation_run(operation_id=operation.pk) == {"done": 2, "failed": 1}
    operation.refresh_from_db()
    assert operation.errors[0]["exception"] == exceptions[0].pk
    assert "only open exceptions" in operation.errors[0]["message"]


def test_an_operation_whose_worker_died_is_sent_again_and_goes_on_where_it_stopped(demo, operator):
    exceptions = _many_blocked(120)
    operation = bulk_operation_start(
        actor=operator,
        action="dismiss",
        ids=[e.pk for e in exceptions],
        params={"reason": "Sandbox data."},
    )
    # A worker took it, saved one chunk of progress and died ten minutes ago.
    first_chunk = [e.pk for e in exceptions[:50]]
    BusinessException.objects.filter(pk__in=first_chunk).update(status=ExceptionStatus.DISMISSED)
    long_ago = timezone.now() - timedelta(minutes=10)
    BulkOperation.objects.filter(pk=operation.pk).update(
        status=BulkStatus.RUNNING, done=50, heartbeat_at=long_ago, created_at=long_ago
    )
    assert bulk_operations_resume() == 1
    assert BulkOperation.objects.get(pk=operation.pk).status == BulkStatus.QUEUED

    assert bulk_operation_run(operation_id=operation.pk) == {"done": 70, "failed": 0}
    operation.refresh_from_db()
    assert (operation.status, operation.done, operation.progress) == (BulkStatus.DONE, 120, 100)
    assert BusinessException.objects.filter(status=ExceptionStatus.DISMISSED).count() == 120
    dismissed_by_the_run = AuditEvent.objects.filter(action="exception.dismiss")
    assert dismissed_by_the_run.count() == 70  # the first chunk was not done twice
    assert bulk_operations_resume() == 0  # done: nothing to send


def test_a_bulk_request_without_what_it_needs_is_refused_naming_it(demo, operator):
    _many_blocked(1)
    with pytest.raises(ApplicationError) as refused:
        bulk_operation_start(actor=operator, action="resolve", filters={}, params={})
    assert "params.resolution" in refused.value.errors
    with pytest.raises(ApplicationError) as refused:
        bulk_operation_start(actor=operator, action="explode", ids=[1])
    assert "action" in refused.value.errors
    assert not BulkOperation.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_bulk_retry_runs_in_a_real_worker(celery_worker, operator, demo):
    exceptions = _many_blocked(20)
    operation = bulk_operation_start(
        actor=operator, action="retry", ids=[e.pk for e in exceptions], params={}
    )
    wait_for(
        lambda: BulkOperation.objects.get(pk=operation.pk).status == BulkStatus.DONE,
        timeout=60,
        what="the bulk retry to finish",
        on_timeout=celery_worker.tail,
    )
    assert BulkOperation.objects.get(pk=operation.pk).done == 20
    wait_for(
        lambda: Transaction.objects.filter(state=TransactionState.SUCCEEDED).count() == 20,
        timeout=60,
        what="the retried transactions to succeed",
        on_timeout=celery_worker.tail,
    )
    assert Customer.objects.filter(number__startswith="C-B").count() == 20
