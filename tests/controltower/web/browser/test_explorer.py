"""The transaction explorer in a real browser: an operator finds the failed transactions,
retries one and watches a real worker run it; a viewer finds no action to take."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.controltower.web.browser.test_sign_in import sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def failures():
    """The demo, a customer event blocked by an unknown legal entity, a dead letter and a success."""
    from django.test import Client

    from controltower.operations.demo import demo_load
    from integrations.choices import FlowKind, TransactionState
    from integrations.services.processing import transactions_process
    from tests.factories.operations import FlowTransactionFactory
    from tests.support.inbound import customer_event, signed_post

    demo_load()
    ids = signed_post(
        Client(),
        "crm",
        [
            customer_event("C-7001", name="Wayne Enterprises"),
            customer_event("C-7002", legal_entity="ZZ99"),
        ],
    ).json()["transaction_ids"]
    transactions_process(ids=ids)
    FlowTransactionFactory(
        kind=FlowKind.TIME_TO_BILLING,
        event_type="invoice.approved",
        business_key="INV-0042",
        state=TransactionState.DEAD,
        attempts_count=8,
        error_class="transient",
        last_error="POST /services/rest/record/v1/invoice answered 503: Service unavailable",
        normalized={"type": "invoice.approved", "data": {"number": "INV-0042"}},
    )
    return ids


def state_badge(page: Page):
    return page.get_by_role("heading", level=1).locator(".badge")


def test_an_operator_filters_the_failed_transactions_retries_one_and_sees_it_succeed(
    page: Page, live_server, screenshot, failures, celery_worker
):
    from canonical.models import LegalEntity
    from controltower.operations.models import AuditEvent

    base = live_server.url
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, base, "operator", "operator")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Transactions").click()
    expect(page.get_by_role("heading", name="Transactions", level=1)).to_be_visible()
    table = page.get_by_role("table")
    expect(table.get_by_role("row")).to_have_count(4)  # the heading and three transactions

    # The failed ones: blocked and dead letters, ticked as filters.
    page.get_by_role("checkbox", name="Blocked").check()
    page.get_by_role("checkbox", name="Dead letter").check()
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"state=blocked&state=dead|state=dead&state=blocked"))
    expect(table.get_by_role("row")).to_have_count(3)
    expect(table).to_contain_text("C-7002")
    expect(table).to_contain_text("INV-0042")
    expect(table).not_to_contain_text("C-7001")
    expect(table).to_contain_text("Legal entity 'ZZ99' does not exist.")
    screenshot("failed-transactions")
    page.set_viewport_size({"width": 820, "height": 1100})
    screenshot("failed-transactions-tablet")
    page.set_viewport_size({"width": 1280, "height": 900})

    # The blocked customer: its detail says why; the cause is fixed, then it is retried.
    table.get_by_role("link", name=f"#{failures[1]}").click()
    expect(state_badge(page)).to_have_text("Blocked")
    expect(page.get_by_text("Held by an exception")).to_be_visible()
    LegalEntity.objects.create(code="ZZ99", name="Zed Holdings", country="US", currency="USD")
    page.get_by_label("Reason").first.fill("ZZ99 was added to the ERP")
    page.get_by_role("button", name="Retry now").click()
    expect(page.get_by_role("status")).to_contain_text(
        f"Transaction {failures[1]} is queued to run again"
    )
    screenshot("retried")

    # The worker runs it; the page shows where it stands on the next look.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if state_badge(page).inner_text() == "Succeeded":
            break
        time.sleep(1)
        page.reload()
    expect(state_badge(page)).to_have_text("Succeeded")
    expect(page.get_by_text("Attempt 2")).to_be_visible()
    assert AuditEvent.objects.get(action="transaction.retry").reason == "ZZ99 was added to the ERP"
    screenshot("succeeded")


def test_a_viewer_reads_transactions_but_finds_no_action_to_take(
    page: Page, live_server, screenshot, failures
):
    base = live_server.url
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, base, "viewer", "viewer")
    page.goto(f"{base}/transactions/?state=blocked&state=dead")
    table = page.get_by_role("table")
    expect(table.get_by_role("row")).to_have_count(3)
    expect(page.get_by_role("link", name="Download CSV")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Retry the failed"))).to_have_count(0)
    screenshot("viewer-list")

    table.get_by_role("link", name=f"#{failures[1]}").click()
    expect(page.get_by_role("heading", name="Payload as received")).to_be_visible()
    expect(page.get_by_role("heading", name="Actions")).to_have_count(0)
    for name in (
        "Retry now",
        "Replay as received",
        "Replay the edited event",
        "Cancel transaction",
    ):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    screenshot("viewer-detail")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Systems").click()
    expect(page.get_by_role("heading", name="Systems and flows")).to_be_visible()
    expect(page.get_by_role("button", name="Pause")).to_have_count(0)
    expect(page.get_by_text("Only an admin can pause or resume a flow.")).to_be_visible()
    screenshot("viewer-systems")
