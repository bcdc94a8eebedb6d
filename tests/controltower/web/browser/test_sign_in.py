"""A person in a real browser: headless Chromium driven by Playwright."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.support.inbound import customer_event, signed_post

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def sign_in(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/")
    expect(page).to_have_url(f"{base}/login/?next=/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_an_operator_signs_in_and_sees_the_overview(page: Page, live_server, screenshot):
    from django.test import Client

    from controltower.operations.demo import demo_load
    from integrations.services.processing import transactions_process

    demo_load()
    ids = signed_post(
        Client(), "crm", [customer_event("C-8001"), customer_event("C-8002", legal_entity="XX01")]
    ).json()["transaction_ids"]
    transactions_process(ids=ids)

    sign_in(page, live_server.url, "operator", "operator")
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    expect(page.locator('[data-figure="success_rate"] .tile-value')).to_have_text("50.0 %")
    expect(page.locator('[data-figure="failed"] .tile-value')).to_have_text("1")
    expect(page.locator('[data-figure="open_exceptions"] .tile-value')).to_have_text("1")
    master = page.locator('tr[data-flow="master_data_sync"]')
    expect(master.get_by_role("rowheader")).to_have_text("Master-data sync")
    screenshot()


def test_a_wrong_password_keeps_the_person_on_the_sign_in_page(page: Page, live_server, screenshot):
    from controltower.operations.demo import demo_load

    demo_load()
    sign_in(page, live_server.url, "operator", "not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("didn't match")
    screenshot()
