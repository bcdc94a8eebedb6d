"""Exception codes are one typed registry: a code that is not in it cannot be raised."""

from __future__ import annotations

import pytest
from django.db import transaction

from canonical.choices import RuleCode
from canonical.errors import RuleViolation
from integrations.choices import ExceptionType, Severity, TransactionState
from integrations.errors import IntegrationError
from integrations.exception_types import (
    APPROVAL_TYPES,
    EXCEPTION_KINDS,
    UnknownExceptionCode,
    exception_kind,
)
from integrations.services.exceptions import exception_raise
from integrations.services.processing import transactions_process
from tests.factories.operations import FlowTransactionFactory


def test_every_code_has_its_flow_severity_money_and_fix():
    assert set(EXCEPTION_KINDS) == set(ExceptionType.values)
    for kind in EXCEPTION_KINDS.values():
        assert kind.title == ExceptionType(kind.code).label
        assert kind.money and kind.fix


def test_every_code_a_canonical_rule_raises_is_an_exception_code():
    assert set(RuleCode.values) <= set(ExceptionType.values)
    for code in RuleCode:
        assert RuleCode(code).label == ExceptionType(code.value).label


def test_a_code_that_is_not_in_the_registry_is_refused_where_it_is_raised():
    with pytest.raises(UnknownExceptionCode, match="missing_rate_cards"):
        IntegrationError.business("No rate.", code="missing_rate_cards")
    with pytest.raises(UnknownExceptionCode):
        exception_kind("other_thing")


def test_approval_types_are_the_ones_that_wait_for_a_second_person():
    assert set(APPROVAL_TYPES) == {ExceptionType.AMENDMENT_CONFLICT, ExceptionType.EDITED_REPLAY}


@pytest.mark.django_db
def test_a_raised_exception_takes_its_severity_from_the_registry():
    tx = FlowTransactionFactory(kind="master_data_sync", event_type="customer.upserted")
    failure = IntegrationError.business("No handler.", code=ExceptionType.UNHANDLED_EVENT_TYPE)
    with transaction.atomic():
        exc = exception_raise(tx=tx, failure=failure)
    assert (exc.exception_type, exc.severity) == ("unhandled_event_type", Severity.CRITICAL)


@pytest.mark.django_db
def test_a_rule_with_a_code_the_registry_lacks_fails_as_a_bug_not_as_other(monkeypatch):
    """A typo in a rule's code retries and shows as an internal error; nothing becomes "other"."""
    from integrations.flows import registry as flows

    def broken_rule(tx):
        raise RuleViolation("Looks like a rule.", code="no_such_rule")

    monkeypatch.setitem(flows._HANDLERS, "customer.upserted", broken_rule)
    tx = FlowTransactionFactory(kind="master_data_sync", event_type="customer.upserted")
    transactions_process(ids=[tx.pk])
    tx.refresh_from_db()
    assert tx.state == TransactionState.RETRY_SCHEDULED
    assert tx.error_class == "internal" and "no_such_rule" in tx.last_error
    assert tx.exception_id is None
