"""An admin configures ownership in a real browser: a team, a rule with its live preview, a re-route."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from tests.controltower.web.browser.test_sign_in import sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def open_exceptions():
    """The demo, a catch-all team, and open exceptions for two of its legal entities."""
    from canonical.models import Customer, LegalEntity
    from controltower.operations.demo import demo_load
    from integrations.choices import ExceptionType
    from tests.factories.operations import BusinessExceptionFactory, TeamFactory

    demo_load()
    catch_all = TeamFactory(name="Catch-all", is_default=True)
    us, gb = LegalEntity.objects.get(code="US01"), LegalEntity.objects.get(code="GB01")
    acme, globex = Customer.objects.get(number="C-1001"), Customer.objects.get(number="C-1002")
    for key, entity, customer, money, kind in [
        ("P-1042", us, acme, "18400.00", ExceptionType.MISSING_RATE_CARD),
        ("P-1043", us, acme, "2250.00", ExceptionType.BILLING_HOLD),
        ("P-2001", gb, globex, "960.00", ExceptionType.MISSING_RATE_CARD),
    ]:
        BusinessExceptionFactory(
            business_key=key,
            legal_entity=entity,
            customer=customer,
            exception_type=kind,
            team=catch_all,
            money_at_risk=Decimal(money),
            currency=entity.currency,
        )
    return catch_all


def test_an_admin_adds_a_team_and_a_rule_and_sees_which_exceptions_it_would_take(
    page: Page, live_server, screenshot, open_exceptions
):
    from controltower.operations.models import AuditEvent, BusinessException, OwnershipRule, Team

    base = live_server.url
    sign_in(page, base, "admin", "admin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Configuration").click()
    expect(page.get_by_role("heading", name="Configuration", level=1)).to_be_visible()
    screenshot("configuration")

    # A team, with a mistake first: the error is named in the summary and beside the field.
    page.get_by_role("link", name="Add team").first.click()
    page.get_by_role("button", name="Add team").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Nothing was saved")
    expect(summary).to_be_focused()
    expect(page.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
    screenshot("team-errors")
    page.get_by_label("Name").fill("US billing")
    page.get_by_label("Email", exact=True).fill("us-billing@example.com")
    page.get_by_role("checkbox", name="operator").check()
    page.get_by_label("Reason for this change").fill("US desk takes US01 work")
    page.get_by_role("button", name="Add team").click()
    expect(page.get_by_role("status")).to_contain_text("Added the team “US billing”")
    expect(page.get_by_role("link", name="US billing")).to_be_visible()

    # A rule: the preview follows the form as it is filled in.
    page.get_by_role("link", name="Ownership rules").click()
    expect(
        page.get_by_text("No ownership rules yet: every exception goes to the default team")
    ).to_be_visible()
    page.get_by_role("link", name="Add ownership rule").first.click()
    preview = page.locator("#rule-preview")
    expect(preview).to_contain_text("Choose a team and at least one")
    page.get_by_label("Team", exact=True).select_option(label="US billing")
    page.get_by_label("Legal entity").select_option(label="US01 Northwind Consulting Inc.")
    expect(preview).to_contain_text("This rule would take 2 open exceptions to US billing")
    expect(preview).to_contain_text("20,650.00 USD")
    expect(preview.get_by_role("row", name=re.compile("P-1042"))).to_contain_text("Catch-all")
    expect(preview).not_to_contain_text("P-2001")
    page.get_by_label("Exception type").select_option(label="Billing hold")
    expect(preview).to_contain_text("This rule would take 1 open exception to US billing")
    page.get_by_label("Exception type").select_option(label="Any")
    expect(preview).to_contain_text("This rule would take 2 open exceptions")
    screenshot("rule-preview")

    page.get_by_label("Reason for this change").fill("US01 goes to the US desk")
    page.get_by_role("button", name="Add ownership rule").click()
    expect(page.get_by_role("status")).to_contain_text("Added the ownership rule")
    assert OwnershipRule.objects.get().team == Team.objects.get(name="US billing")
    assert BusinessException.objects.filter(team__name="US billing").count() == 0

    # Re-route the open exceptions now, with a reason; htmx answers in place.
    page.get_by_label("Reason", exact=True).fill("Hand-over to the US desk")
    page.get_by_role("button", name="Re-route open exceptions now").click()
    expect(page.locator("#reroute-panel")).to_contain_text("Moved 2 open exceptions")
    assert set(
        BusinessException.objects.filter(team__name="US billing").values_list(
            "business_key", flat=True
        )
    ) == {"P-1042", "P-1043"}
    screenshot("rules-list")

    # Every step is in the audit log, with its reason.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit").click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    page.get_by_label("Action").fill("exception.reroute")
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"/audit/\?.*action=exception.reroute"))
    expect(page.get_by_role("cell", name="Hand-over to the US desk")).to_have_count(2)
    assert AuditEvent.objects.filter(
        action="team.create", reason="US desk takes US01 work"
    ).exists()
    page.get_by_label("Action").fill("")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_role("cell", name="US01 goes to the US desk")).to_be_visible()
    screenshot("audit")


def test_the_rule_page_reads_well_at_tablet_width(
    page: Page, live_server, screenshot, open_exceptions
):
    from controltower.operations.models import OwnershipRule

    team = open_exceptions
    rule = OwnershipRule.objects.create(team=team, exception_type="billing_hold")
    page.set_viewport_size({"width": 820, "height": 1100})
    sign_in(page, live_server.url, "admin", "admin")  # the configuration is an admin's
    page.goto(f"{live_server.url}/config/rules/{rule.pk}/")
    expect(page.get_by_label("Team", exact=True)).to_be_enabled()
    expect(page.get_by_role("button", name="Save changes")).to_be_visible()
    expect(page.locator("#rule-preview")).to_contain_text("would take no open exceptions")
    # Nothing spills sideways at this width.
    assert page.evaluate("document.documentElement.scrollWidth") <= 820
    screenshot("tablet")


def test_times_are_shown_in_the_browsers_own_time_zone(browser, live_server):
    import datetime as dt

    import time_machine

    from controltower.operations.demo import demo_load
    from controltower.operations.services.audit import audit_record

    demo_load()
    with time_machine.travel(dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC), tick=False):
        audit_record(
            actor=None,
            action="flow.pause",
            object_type="integrations.flow",
            object_id=1,
            object_repr="Time to billing",
            reason="Noon in London",
        )
    context = browser.new_context(timezone_id="Asia/Tokyo", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        sign_in(page, live_server.url, "viewer", "viewer")
        page.goto(f"{live_server.url}/audit/")
        expect(page.locator("footer")).to_contain_text("Times are shown in Asia/Tokyo")
        row = page.get_by_role("row", name=re.compile("Noon in London"))
        expect(row).to_contain_text("15 Jan 2026 21:00")  # Tokyo is UTC+9
        expect(row).to_contain_text(re.compile(r"(months?|weeks?|days?) ago"))
        # The keyboard reaches the skip link first, and it leads to the content.
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    finally:
        context.close()
