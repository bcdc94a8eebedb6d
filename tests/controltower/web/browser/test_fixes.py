"""A missing rate card fixed from the exception in a real browser: the operator who meets it
is told before any click that it needs a finance role, finance adds the rate on the
exception's page, and a real worker settles the transaction it held."""

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

WIDE = {"width": 1280, "height": 900}


@pytest.fixture
def missing_rate(live_server):
    """The demo against the simulated ERP; contract K-6001 signed on rate card RC-US-STD, and
    an assignment as Architect, a role the card has no line for, blocked on it."""
    from controltower.operations.demo import demo_load, demo_operations_load
    from integrations.choices import TransactionState
    from tests.support.inbound import contract_event, event, events_run
    from tests.support.simulator import demo_systems_simulated, simulator_client

    demo_load()
    demo_operations_load()
    base = f"{live_server.url}/simulator"
    demo_systems_simulated(base)
    with simulator_client(f"{base}/erp", timeout=10) as http:
        http.post("/_reset")
    [signed] = events_run(contract_event("K-6001"), system="clm")
    assert signed.state == TransactionState.SUCCEEDED, signed.last_error
    [tx] = events_run(
        event(
            "assignment.upserted",
            {
                "number": "A-2",
                "project": "P-K-6001",
                "resource": "E-0003",
                "role": "Architect",
                "start_date": "2026-11-02",
                "allocation_percent": 50,
            },
        ),
        system="psa",
    )
    assert tx.state == TransactionState.BLOCKED
    return tx


def test_an_operator_meets_a_missing_rate_card_and_finance_fixes_it_from_the_exception_and_its_transaction_settles(
    page: Page, live_server, screenshot, missing_rate, celery_worker
):
    from canonical.models import RateCardLine
    from integrations.choices import TransactionState
    from integrations.models import Transaction

    base = live_server.url
    exception_url = f"{base}/exceptions/{missing_rate.exception_id}/"
    page.set_viewport_size(WIDE)

    # The operator opens it from the queue: told it is finance's before any click, no admin link.
    sign_in(page, base, "operator", "operator")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Exceptions").click()
    page.goto(f"{base}/exceptions/?tab=all&exception_type=missing_rate_card")
    page.locator(f'a[href="/exceptions/{missing_rate.exception_id}/"]').first.click()
    expect(page).to_have_url(exception_url)
    fix = page.locator("#fix")
    expect(fix).to_contain_text("Fix it here: Add the Architect rate to rate card RC-US-STD")
    expect(fix).to_contain_text("Needs a finance role (approver or admin).")
    expect(fix.get_by_label("Hourly rate")).to_have_count(0)
    expect(page.locator('a[href^="/admin/"]')).to_have_count(0)
    screenshot("operator-told-finance")
    page.get_by_role("button", name="Sign out").click()

    # Finance opens the fix on the exception's own page and adds the rate.
    sign_in(page, base, "approver", "approver")
    page.goto(exception_url)
    page.get_by_role(
        "link", name="Open the fix: Add the Architect rate to rate card RC-US-STD"
    ).click()
    expect(page).to_have_url(f"{exception_url}#fix")
    page.locator("#fix").get_by_label("Hourly rate").fill("260")
    screenshot("finance-adds-rate")
    page.get_by_role("button", name="Add the rate and run").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Rate added. 1 held transaction(s) sent to run again."
    )
    expect(page.get_by_text("Resolved", exact=True).first).to_be_visible()
    assert RateCardLine.objects.get(rate_card__code="RC-US-STD", role="Architect").rate == 260

    # A real worker runs it; the exception's page shows it settled.
    held = page.get_by_role("region", name=re.compile("Transactions it held"))
    row = held.get_by_role("row", name=re.compile(f"#{missing_rate.pk}"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "Succeeded" not in row.inner_text():
        time.sleep(1)
        page.reload()
    expect(row).to_contain_text("Succeeded")
    assert Transaction.objects.get(pk=missing_rate.pk).state == TransactionState.SUCCEEDED
    expect(page.get_by_text("exception.fix_rate")).to_be_visible()  # the history
    screenshot("settled")
