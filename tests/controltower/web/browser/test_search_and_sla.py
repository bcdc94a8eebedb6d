"""Two journeys in a real browser: the header's search finds a customer and its contract
by part of a name; an exception under two matching SLA policies shows one verdict."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.controltower.web.browser.test_sign_in import sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_the_header_search_finds_wayne_and_opens_its_contract(page: Page, live_server, screenshot):
    from controltower.operations.demo import demo_load
    from tests.factories.canonical import ContractFactory, CustomerFactory, ProjectFactory

    demo_load()
    wayne = CustomerFactory(number="C-2001", name="Wayne Enterprises")
    contract = ContractFactory(number="K-7001", customer=wayne)
    ProjectFactory(code="P-7001", name="Gotham Cloud Migration", contract=contract, customer=wayne)

    sign_in(page, live_server.url, "viewer", "viewer")
    page.get_by_label("Search the tower").fill("wayne")
    page.get_by_label("Search the tower").press("Enter")

    expect(page.get_by_role("heading", name="Search", level=1)).to_be_visible()
    customers = page.locator("section", has=page.locator("#hits-customer"))
    expect(customers.get_by_role("link", name="C-2001")).to_be_visible()
    expect(customers).to_contain_text("Wayne Enterprises")
    contracts = page.locator("section", has=page.locator("#hits-contract"))
    expect(contracts).to_contain_text("Wayne Enterprises")
    screenshot("hits")
    contracts.get_by_role("link", name="K-7001").click()
    expect(page).to_have_url(f"{live_server.url}/records/contract/{contract.pk}/")


def test_an_exception_under_two_policies_shows_one_verdict(page: Page, live_server, screenshot):
    from controltower.operations.demo import demo_load
    from controltower.operations.services.sla import sla_sweep
    from integrations.choices import ErrorClass, FlowKind, Severity
    from integrations.errors import IntegrationError
    from integrations.services.exceptions import exception_raise
    from tests.factories.operations import FlowTransactionFactory, SlaPolicyFactory

    demo_load()
    raised = timezone.now() - dt.timedelta(hours=3)
    # The severity's policy would have it breached after 2 h; its code's gives it 11 h.
    SlaPolicyFactory(
        for_exceptions=True,
        name="High severity in 2 h",
        exception_type="",
        severity=Severity.HIGH,
        target_minutes=120,
    )
    SlaPolicyFactory(for_exceptions=True, name="Rate cards in 11 h", target_minutes=11 * 60)
    tx = FlowTransactionFactory(kind=FlowKind.TIME_TO_BILLING, event_type="time_entry.approved")
    failure = IntegrationError(
        "No Analyst rate for project P-1.",
        transient=False,
        error_class=ErrorClass.DATA,
        code="missing_rate_card",
    )
    with time_machine.travel(raised, tick=False), transaction.atomic():
        exc = exception_raise(tx=tx, failure=failure).businessexception
    sla_sweep()

    sign_in(page, live_server.url, "operator", "operator")
    page.goto(f"{live_server.url}/exceptions/{exc.pk}/")
    facts = page.locator("dt:has-text('SLA due') + dd")
    expect(facts).to_contain_text("under “Rate cards in 11 h”")
    expect(facts).not_to_contain_text("Breached")
    expect(page.get_by_text("SLA breached")).to_have_count(0)
    screenshot("one-verdict")
