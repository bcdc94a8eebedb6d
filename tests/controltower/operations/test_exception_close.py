"""Every way an exception closes goes through the engine's one ``exception_close``.

Each caller (a person's resolve and dismiss, an approver's approve and reject, a bulk
action, the data arriving, the recheck sweep, a reconciliation that no longer finds its
drift) closes a snoozed exception that holds a blocked transaction. Each must announce
exactly one close, as the one function does, and leave the same marks: closed with a
time, no longer snoozed, its transaction run again (resolved) or cancelled (dismissed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest
from django.db import transaction
from django.utils import timezone

from canonical.models import LegalEntity
from controltower.operations.models import AuditEvent, BusinessException
from controltower.operations.services.approvals import exception_approve, exception_reject
from controltower.operations.services.bulk import bulk_operation_run, bulk_operation_start
from controltower.operations.services.exceptions import exception_dismiss, exception_resolve
from integrations.choices import ExceptionStatus, ExceptionType, FlowKind, TransactionState
from integrations.models import Transaction
from integrations.services.exceptions import (
    exceptions_clear,
    exceptions_recheck,
    exceptions_resolve_by_fix,
)
from integrations.signals import exception_closed
from tests.factories.operations import BusinessExceptionFactory, FlowTransactionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def closes() -> Iterator[list[dict]]:
    """The closes announced while the test runs."""
    heard: list[dict] = []

    def listen(sender, **kwargs) -> None:
        heard.append(kwargs)

    exception_closed.connect(listen, dispatch_uid="test-closes")
    yield heard
    exception_closed.disconnect(dispatch_uid="test-closes")


def held(exception_type: str = ExceptionType.INVALID_LEGAL_ENTITY, **fields) -> BusinessException:
    """A snoozed open exception that holds one blocked transaction."""
    exc = BusinessExceptionFactory(
        exception_type=exception_type,
        flow=FlowKind.MASTER_DATA_SYNC,
        waiting_on="legal_entity:ZZ99",
        snoozed_until=timezone.now() + dt.timedelta(days=1),
        **fields,
    )
    FlowTransactionFactory(
        kind=FlowKind.MASTER_DATA_SYNC,
        event_type="customer.upserted",
        state=TransactionState.BLOCKED,
        exception=exc,
    )
    return exc


def person_resolves(exc, people) -> None:
    exception_resolve(exception_id=exc.pk, actor=people["operator"], resolution="Entity added.")


def person_dismisses(exc, people) -> None:
    exception_dismiss(exception_id=exc.pk, actor=people["operator"], reason="Test customer.")


def approver_approves(exc, people) -> None:
    exception_approve(exception_id=exc.pk, actor=people["approver"], reason="Agreed.")


def approver_rejects(exc, people) -> None:
    exception_reject(exception_id=exc.pk, actor=people["approver"], reason="Not agreed.")


def bulk_resolves(exc, people) -> None:
    operation = bulk_operation_start(
        actor=people["operator"],
        action="resolve",
        ids=[exc.pk],
        params={"resolution": "Fixed at the source."},
    )
    bulk_operation_run(operation_id=operation.pk)


def bulk_dismisses(exc, people) -> None:
    operation = bulk_operation_start(
        actor=people["operator"], action="dismiss", ids=[exc.pk], params={"reason": "Duplicates."}
    )
    bulk_operation_run(operation_id=operation.pk)


def data_arrives(exc, people) -> None:
    with transaction.atomic():
        exceptions_clear(waiting_on="legal_entity:ZZ99", resolution="ZZ99 arrived from the ERP.")


def recheck_finds_the_data(exc, people) -> None:
    LegalEntity.objects.create(code="ZZ99", name="Late entity", country="DE", currency="EUR")
    exceptions_recheck()


def reconciliation_no_longer_finds_it(exc, people) -> None:
    with transaction.atomic():
        exceptions_resolve_by_fix(
            BusinessException.objects.filter(pk=exc.pk), resolution="No longer found."
        )


CALLERS: list[tuple[Callable, str, str, bool]] = [
    (person_resolves, ExceptionType.INVALID_LEGAL_ENTITY, ExceptionStatus.RESOLVED, False),
    (person_dismisses, ExceptionType.INVALID_LEGAL_ENTITY, ExceptionStatus.DISMISSED, False),
    (approver_approves, ExceptionType.AMENDMENT_CONFLICT, ExceptionStatus.RESOLVED, False),
    (approver_rejects, ExceptionType.AMENDMENT_CONFLICT, ExceptionStatus.DISMISSED, False),
    (bulk_resolves, ExceptionType.INVALID_LEGAL_ENTITY, ExceptionStatus.RESOLVED, False),
    (bulk_dismisses, ExceptionType.INVALID_LEGAL_ENTITY, ExceptionStatus.DISMISSED, False),
    (data_arrives, ExceptionType.INVALID_LEGAL_ENTITY, ExceptionStatus.RESOLVED, True),
    (recheck_finds_the_data, ExceptionType.INVALID_LEGAL_ENTITY, ExceptionStatus.RESOLVED, True),
    (
        reconciliation_no_longer_finds_it,
        ExceptionType.RECONCILIATION_DRIFT,
        ExceptionStatus.RESOLVED,
        True,
    ),
]


@pytest.mark.parametrize(
    ("close", "exception_type", "status", "by_fix"),
    CALLERS,
    ids=[caller.__name__ for caller, *_ in CALLERS],
)
def test_every_caller_closes_through_the_one_close(
    close, exception_type, status, by_fix, closes, user_with_role
):
    people = {"operator": user_with_role("operator"), "approver": user_with_role("approver")}
    exc = held(exception_type)
    close(exc, people)
    assert [(c["exception"].pk, c["by_fix"]) for c in closes] == [(exc.pk, by_fix)]
    exc.refresh_from_db()
    assert exc.status == status
    assert exc.resolved_at is not None and exc.resolution
    assert exc.snoozed_until is None  # a closed exception is not held out of the queue
    [tx] = Transaction.objects.filter(exception=exc)
    if status == ExceptionStatus.RESOLVED:
        assert tx.state == TransactionState.RECEIVED  # runs again
    else:
        assert tx.state == TransactionState.CANCELLED
    fixes = AuditEvent.objects.filter(action="exception.resolve_by_fix", object_id=str(exc.pk))
    assert fixes.exists() == by_fix  # a close no person made is written down all the same


def test_a_closed_exception_is_not_closed_twice(closes, user_with_role):
    exc = held()
    person_resolves(exc, {"operator": user_with_role("operator")})
    with transaction.atomic():
        exceptions_clear(waiting_on="legal_entity:ZZ99", resolution="Arrived again.")
    assert len(closes) == 1
