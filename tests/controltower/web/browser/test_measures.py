"""The measures in a real browser, after the demo loads and a contract is signed through the
flow against the simulated ERP and PSA: the overview's contract-to-project cycle time and
failure trend, and the Measures page with its chart, ranges and CSV."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.controltower.web.browser.test_overview import chart, tile
from tests.controltower.web.browser.test_sign_in import sign_in
from tests.support.inbound import contract_event, customer_event, events_send

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

BUSINESS_HOURS = re.compile(r"^\d[\d,]*(\.\d+)? business h$")


@pytest.fixture
def worked(simulator):
    """The demo (through ``simulator``), a contract signed on Monday 2 November 09:00 UTC and
    set up in the ERP and the PSA now, and a customer with an unknown legal entity, blocked."""
    from integrations.choices import TransactionState
    from integrations.models import Transaction

    [signed] = events_send(contract_event("K-7701"), system="clm")
    assert Transaction.objects.get(pk=signed).state == TransactionState.SUCCEEDED
    [blocked] = events_send(customer_event("C-7702", legal_entity="XX01"))
    assert Transaction.objects.get(pk=blocked).state == TransactionState.BLOCKED


def test_the_overview_shows_the_business_cycle_time_and_the_failure_trend_after_the_demo(
    page: Page, live_server, screenshot, worked
):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live_server.url, "viewer", "viewer")

    cycle = tile(page, "contract_to_project")
    expect(cycle.locator(".tile-value")).to_have_text(BUSINESS_HOURS)
    expect(cycle.locator(".tile-note")).to_contain_text(
        "signed to ready in the ERP and the PSA, on average over 1 project"
    )
    failures = chart(page, "#failures-chart")
    assert failures["type"] == "line" and failures["labels"] == 24
    assert failures["total"] == 1  # the blocked customer
    assert failures["painted"] > 500
    screenshot()


def test_the_measures_page_draws_its_chart_and_exports_each_measure(
    page: Page, live_server, screenshot, worked
):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live_server.url, "operator", "operator")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Measures").click()
    expect(page.get_by_role("heading", name="Measures", level=1)).to_be_visible()
    setup = page.locator('[data-measure="project_setup"]')
    expect(setup.locator(".tile-value")).to_have_text(BUSINESS_HOURS)
    expect(setup).to_contain_text("From the contract signed to its project ready")
    expect(page.locator('[data-measure="recovery"] .tile-value')).to_have_text("No data yet")
    week = chart(page, "#failures-chart")
    assert week["type"] == "line" and week["labels"] == 7 and week["total"] == 1
    assert week["painted"] > 500
    # Nothing spills over the width at 1280 px.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    screenshot("7d")

    page.get_by_role("navigation", name="Time range of the measures").get_by_role(
        "link", name="Last 30 days"
    ).click()
    expect(page).to_have_url(f"{live_server.url}/measures/?range=30d")
    month = chart(page, "#failures-chart")
    assert month["labels"] == 30 and month["total"] == 1

    with page.expect_download() as download:
        setup.get_by_role("link", name="CSV").click()
    path = download.value.path()
    lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    assert download.value.suggested_filename == "measure-project-setup-30d.csv"
    assert lines[0] == "Project,Contract,Contract signed,Ready in ERP and PSA,Business hours"
    assert lines[1].startswith("P-K-7701,K-7701,2026-11-02T09:00:00")
