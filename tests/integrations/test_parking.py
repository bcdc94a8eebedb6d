"""Parked, not failed: work blocked by missing master data re-runs when the data arrives."""

from __future__ import annotations

import pytest

from canonical.models import Customer
from controltower.operations.models import AuditEvent, BusinessException
from integrations.choices import ExceptionStatus, ExceptionType, Severity, TransactionState
from integrations.models import Transaction
from integrations.services.processing import transactions_process
from tests.support.inbound import customer_event, events_send, legal_entity_event

pytestmark = pytest.mark.django_db


def test_a_blocked_event_raises_a_business_exception_waiting_on_the_missing_record(demo):
    [tx_id] = events_send(customer_event("C-9101", legal_entity="FR01"))
    tx = Transaction.objects.get(pk=tx_id)
    exc = tx.exception
    assert exc.exception_type == ExceptionType.INVALID_LEGAL_ENTITY
    assert exc.status == ExceptionStatus.OPEN and exc.severity == Severity.HIGH
    assert exc.waiting_on == "legal_entity:FR01" and exc.flow == "master_data_sync"
    assert "FR01" in exc.message and exc.business_key == "C-9101"


def test_every_event_blocked_by_the_same_cause_joins_one_exception(demo):
    events_send(
        customer_event("C-9102", legal_entity="FR01"), customer_event("C-9103", legal_entity="FR01")
    )
    events_send(customer_event("C-9104", legal_entity="IT01"))
    fr = BusinessException.objects.get(waiting_on="legal_entity:FR01")
    assert fr.occurrences == 2 and fr.transactions.count() == 2
    assert BusinessException.objects.count() == 2


def test_the_missing_legal_entity_arriving_resolves_the_exception_and_reruns_its_work(demo):
    blocked = events_send(
        customer_event("C-9105", legal_entity="FR01"), customer_event("C-9106", legal_entity="FR01")
    )
    [le_tx] = events_send(legal_entity_event("FR01"), system="erp")
    exc = BusinessException.objects.get(waiting_on="legal_entity:FR01")
    assert exc.status == ExceptionStatus.RESOLVED and "FR01 arrived from erp" in exc.resolution
    assert set(Transaction.objects.filter(pk__in=blocked).values_list("state", flat=True)) == {
        TransactionState.RECEIVED
    }
    transactions_process(ids=blocked)
    assert Transaction.objects.filter(pk__in=blocked, state=TransactionState.SUCCEEDED).count() == 2
    assert (
        Customer.objects.filter(number__in=["C-9105", "C-9106"], legal_entity__code="FR01").count()
        == 2
    )
    audit = AuditEvent.objects.get(action="exception.resolve_by_fix")
    assert sorted(audit.after["rerun_transactions"]) == sorted(blocked)
    assert Transaction.objects.get(pk=le_tx).state == TransactionState.SUCCEEDED


def test_a_fixed_cause_that_breaks_again_opens_a_new_exception(demo):
    events_send(customer_event("C-9107", legal_entity="FR01"))
    events_send(legal_entity_event("FR01"), system="erp")
    events_send(customer_event("C-9108", legal_entity="PL01"))
    assert (
        BusinessException.objects.filter(status=ExceptionStatus.OPEN).get().waiting_on
        == "legal_entity:PL01"
    )


def test_the_api_lists_open_exceptions_by_money_at_risk_with_their_transactions(
    demo, user_with_role, api_client_for
):
    [tx_id] = events_send(customer_event("C-9109", legal_entity="FR01"))
    client = api_client_for(user_with_role("viewer"))
    body = client.get("/api/v1/exceptions/?status=open&exception_type=invalid_legal_entity").json()
    assert body["count"] == 1
    assert body["results"][0]["transaction_ids"] == [tx_id]
    assert body["results"][0]["waiting_on"] == "legal_entity:FR01"


def test_a_record_fixed_by_a_person_is_found_by_the_recheck_and_the_work_reruns(demo):
    from canonical.models import LegalEntity
    from integrations.services.exceptions import exceptions_recheck

    [tx_id] = events_send(customer_event("C-9110", legal_entity="FR01"))
    assert exceptions_recheck() == 0
    LegalEntity.objects.create(code="FR01", name="Northwind SAS", country="FR", currency="EUR")
    assert exceptions_recheck() == 1
    assert Transaction.objects.get(pk=tx_id).state == TransactionState.RECEIVED
    transactions_process(ids=[tx_id])
    assert Transaction.objects.get(pk=tx_id).state == TransactionState.SUCCEEDED
    assert BusinessException.objects.get().status == ExceptionStatus.RESOLVED
