"""The same request twice at the same moment, and requests over the same rows: each answers a
clean 2xx or 409, never 500, and each row ends as one request left it.

The races run on PostgreSQL, where requests really overlap (SQLite takes one writer at a time).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client

from controltower.operations.models import AuditEvent, BusinessException
from controltower.operations.services.bulk import bulk_operation_run
from integrations.choices import (
    OPEN_STATUSES,
    ExceptionStatus,
    ExceptionType,
    FlowKind,
    TransactionState,
)
from integrations.models import Transaction
from tests.factories.canonical import InvoiceFactory, InvoiceLineFactory
from tests.factories.operations import BusinessExceptionFactory, FlowTransactionFactory
from tests.support.inbound import customer_event, signed_post
from tests.support.locks import sessions_waiting_for_a_lock
from tests.support.worker import wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="requests overlap on PostgreSQL only"
    ),
]


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Runs the calls in threads released at the same moment; their results, in order."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        start.wait()
        try:
            return call()
        finally:
            connection.close()  # each thread has its own database connection

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def all_post(clients: list[Any], url: str, body: dict[str, Any]) -> list[Any]:
    """Each client posts ``body`` to ``url`` at the same moment (a double click, two people)."""
    return race(*(partial(client.post, url, body, format="json") for client in clients))


def statuses(responses: list[Any]) -> list[int]:
    return sorted(response.status_code for response in responses)


@pytest.fixture
def as_role(user_with_role, api_client_for) -> Callable[[str], Any]:
    def make(role: str, username: str | None = None):
        return api_client_for(user_with_role(role, username))

    return make


def test_overlapping_inbound_batches_each_answer_2xx_and_store_every_event_once(demo):
    rng = random.Random(13)
    for round_ in range(6):
        events = [customer_event(f"C-{round_}{n:03}") for n in range(300)]
        # Four batches, each overlapping the next by two thirds, each in its own order.
        batches = [rng.sample(events[i * 50 : i * 50 + 150], 150) for i in range(4)]

        responses = race(*(partial(signed_post, Client(), "crm", b) for b in batches))

        assert {r.status_code for r in responses} <= {200, 202}, [r.content for r in responses]
        for sent, response in zip(batches, responses, strict=True):
            body = response.json()
            assert [row["event_id"] for row in body["results"]] == [e["id"] for e in sent]
            assert body["accepted"] + body["duplicates"] == len(sent)
        assert sum(r.json()["accepted"] for r in responses) == len(events)
        stored = Transaction.objects.filter(idempotency_key__in=[e["id"] for e in events])
        assert stored.count() == len(events)


def test_a_double_clicked_retry_runs_once_and_the_second_click_answers_409(demo, as_role):
    clicks = [as_role("operator"), as_role("operator")]
    for _ in range(5):
        dead = FlowTransactionFactory(kind=FlowKind.MASTER_DATA_SYNC, state=TransactionState.DEAD)
        url = f"/api/v1/transactions/{dead.pk}/retry/"

        responses = all_post(clicks, url, {"reason": "again"})

        assert statuses(responses) == [200, 409], [r.content for r in responses]
        refused = next(r for r in responses if r.status_code == 409)
        assert refused.json()["message"] == (
            f"Transaction {dead.pk} is received; only retry_scheduled, dead, blocked transactions "
            "can be retried."
        )
        assert (
            AuditEvent.objects.filter(action="transaction.retry", object_id=str(dead.pk)).count()
            == 1
        )


def test_concurrent_bulk_retries_over_the_same_rows_answer_200_and_retry_each_row_once(
    demo, as_role
):
    operators = [as_role("operator") for _ in range(4)]
    filters = ["state=blocked&state=dead", "flow=master_data_sync", "", "ordering=id"]
    for _ in range(3):
        rows = [
            FlowTransactionFactory(
                kind=FlowKind.MASTER_DATA_SYNC,
                state=random.choice([TransactionState.BLOCKED, TransactionState.DEAD]),
            )
            for _ in range(60)
        ]

        responses = race(
            *(
                lambda c=c, q=q: c.post(
                    f"/api/v1/transactions/bulk-retry/?{q}",
                    {"reason": "outage over"},
                    format="json",
                )
                for c, q in zip(operators, filters, strict=True)
            )
        )

        assert statuses(responses) == [200] * 4, [r.content for r in responses]
        assert sum(r.json()["retried"] for r in responses) == len(rows)
        assert not Transaction.objects.filter(
            pk__in=[tx.pk for tx in rows],
            state__in=[TransactionState.BLOCKED, TransactionState.DEAD],
        ).exists()


def test_a_double_clicked_replay_makes_one_replay_and_the_second_click_answers_409(demo, as_role):
    from integrations.services.processing import transactions_process

    clicks = [as_role("operator"), as_role("operator")]
    for n in range(5):
        ids = signed_post(
            Client(), "crm", customer_event(f"C-75{n:02}", legal_entity="ZZ99")
        ).json()["transaction_ids"]
        transactions_process(ids=ids)
        url = f"/api/v1/transactions/{ids[0]}/replay/"

        responses = all_post(clicks, url, {"reason": "again"})

        assert statuses(responses) == [201, 409], [r.content for r in responses]
        [replay] = Transaction.objects.filter(parent_id=ids[0])
        refused = next(r for r in responses if r.status_code == 409)
        assert refused.json()["message"] == (
            f"A replay of transaction {ids[0]} is already running: #{replay.pk}."
        )


def test_a_double_clicked_resolve_closes_the_exception_once_and_the_second_answers_409(
    demo, as_role
):
    clicks = [as_role("operator"), as_role("operator")]
    for _ in range(5):
        exc = BusinessExceptionFactory()
        FlowTransactionFactory(
            kind=FlowKind.TIME_TO_BILLING, state=TransactionState.BLOCKED, exception=exc
        )
        url = f"/api/v1/exceptions/{exc.pk}/resolve/"

        responses = all_post(clicks, url, {"resolution": "Rate added"})

        assert statuses(responses) == [200, 409], [r.content for r in responses]
        exc.refresh_from_db()
        assert exc.status == ExceptionStatus.RESOLVED
        assert (
            AuditEvent.objects.filter(action="exception.resolve", object_id=str(exc.pk)).count()
            == 1
        )


def test_a_double_clicked_approval_approves_once_and_the_second_answers_409(demo, as_role):
    approvers = [as_role("approver"), as_role("approver")]
    for _ in range(5):
        replay = BusinessExceptionFactory(exception_type=ExceptionType.EDITED_REPLAY)
        invoice = InvoiceFactory()
        InvoiceLineFactory(invoice=invoice)
        urls = [
            f"/api/v1/exceptions/{replay.pk}/approve/",
            f"/api/v1/invoices/{invoice.pk}/approve/",
        ]

        for url in urls:
            responses = all_post(approvers, url, {"reason": "OK"})

            assert statuses(responses) == [200, 409], (url, [r.content for r in responses])
        assert (
            Transaction.objects.filter(
                business_key=invoice.number, event_type="invoice.approved"
            ).count()
            == 1
        )


def locks_rows_one_by_one(
    first: int, then: int, *, holds_first: threading.Event, go_on: threading.Event
) -> None:
    """Other work that locks two transactions in turn, holding the first while it waits."""
    with transaction.atomic():
        Transaction.objects.select_for_update().filter(pk=first).get()
        holds_first.set()
        go_on.wait(timeout=10)
        Transaction.objects.select_for_update().filter(pk=then).get()


def bulk_retry_while_the_other_work_holds_its_first_row(
    post: Callable[[], Any], first: int, then: int
) -> Any:
    """Races a bulk retry over the dead transactions (``post``) against
    ``locks_rows_one_by_one``: the other work takes ``first``, the bulk retry starts and waits
    for a row, then the other work goes on to ``then``. Returns the bulk retry's response."""
    holds_first, go_on = threading.Event(), threading.Event()

    def bulk_retry() -> Any:
        holds_first.wait(timeout=10)
        return post()

    def go_on_once_the_bulk_retry_waits() -> None:
        holds_first.wait(timeout=10)
        wait_for(
            lambda: sessions_waiting_for_a_lock() >= 1, timeout=10, what="the bulk retry to wait"
        )
        go_on.set()

    _, response, _ = race(
        partial(locks_rows_one_by_one, first, then, holds_first=holds_first, go_on=go_on),
        bulk_retry,
        go_on_once_the_bulk_retry_waits,
    )
    return response


def test_two_bulk_operations_over_the_same_exceptions_close_each_once_and_report_the_rest(
    demo, as_role
):
    exceptions = BusinessExceptionFactory.create_batch(40)
    for exc in exceptions:
        FlowTransactionFactory(
            kind=FlowKind.TIME_TO_BILLING, state=TransactionState.BLOCKED, exception=exc
        )
    ids = [exc.pk for exc in exceptions]
    operator = as_role("operator")
    started = [
        operator.post(
            "/api/v1/bulk-operations/",
            {"action": action, "ids": ids, "params": params},
            format="json",
        )
        for action, params in (
            ("resolve", {"resolution": "Rates added"}),
            ("dismiss", {"reason": "Duplicates"}),
        )
    ]
    assert [r.status_code for r in started] == [202, 202], [r.content for r in started]

    race(*(partial(bulk_operation_run, operation_id=r.json()["id"]) for r in started))

    runs = [operator.get(f"/api/v1/bulk-operations/{r.json()['id']}/").json() for r in started]
    assert [run["status"] for run in runs] == ["done", "done"]
    assert sum(run["done"] for run in runs) == len(ids)  # each exception closed once
    assert sum(run["failed"] for run in runs) == len(ids)  # and refused to the other
    assert not BusinessException.objects.filter(pk__in=ids, status__in=OPEN_STATUSES).exists()


def api_bulk_retry(client: Any) -> Callable[[], Any]:
    return partial(
        client.post,
        "/api/v1/transactions/bulk-retry/?state=dead",
        {"reason": "again"},
        format="json",
    )


def dead_transactions(count: int) -> list[Transaction]:
    return [
        FlowTransactionFactory(kind=FlowKind.MASTER_DATA_SYNC, state=TransactionState.DEAD)
        for _ in range(count)
    ]


def test_a_bulk_retry_waits_its_turn_behind_work_that_locks_the_same_rows_in_id_order(
    demo, as_role
):
    """Closing a breaker, resolving an exception: every other lock of many transactions takes
    them in ascending id order. A bulk retry that took them the other way round deadlocked
    with them (PostgreSQL aborts one of the two)."""
    rows = dead_transactions(3)

    response = bulk_retry_while_the_other_work_holds_its_first_row(
        api_bulk_retry(as_role("operator")), rows[0].pk, rows[-1].pk
    )

    assert response.status_code == 200, response.content
    assert response.json()["retried"] == 3


def test_a_bulk_retry_that_loses_a_deadlock_answers_409_and_changes_nothing(demo, as_role):
    rows = dead_transactions(3)
    # Work that locks the other way round (the last row first): the bulk retry waits for it
    # holding the first row, and the other work then wants the first row.
    response = bulk_retry_while_the_other_work_holds_its_first_row(
        api_bulk_retry(as_role("operator")), rows[-1].pk, rows[0].pk
    )

    assert response.status_code == 409, response.content
    assert response.json()["message"] == (
        "Another request changed the same records at the same moment; nothing was changed. "
        "Try again."
    )
    assert (
        Transaction.objects.filter(
            pk__in=[tx.pk for tx in rows], state=TransactionState.DEAD
        ).count()
        == 3
    )
    assert not AuditEvent.objects.filter(action="transaction.bulk_retry").exists()


def test_a_bulk_retry_page_that_loses_a_deadlock_shows_that_nothing_was_changed(
    demo, user_with_role
):
    rows = dead_transactions(3)
    browser = Client()
    browser.force_login(user_with_role("operator"))

    page = bulk_retry_while_the_other_work_holds_its_first_row(
        partial(browser.post, "/transactions/bulk-retry/?state=dead", {"reason": "again"}),
        rows[-1].pk,
        rows[0].pk,
    )

    assert page.status_code == 409
    assert "Someone else changed this at the same moment" in page.content.decode()
    assert Transaction.objects.filter(state=TransactionState.DEAD).count() == 3
