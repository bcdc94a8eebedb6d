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


def test_an_operator_signs_in_and_sees_the_transactions_and_systems(
    page: Page, live_server, screenshot
):
    from django.test import Client

    from controltower.demo import demo_load
    from integrations.services.processing import transactions_process

    demo_load()
    ids = signed_post(
        Client(), "crm", [customer_event("C-8001"), customer_event("C-8002", legal_entity="XX01")]
    ).json()["transaction_ids"]
    transactions_process(ids=ids)

    sign_in(page, live_server.url, "operator", "operator")
    expect(page.get_by_role("heading", name="Control tower")).to_be_visible()
    states = page.get_by_role("table").first
    expect(states.get_by_role("row", name="succeeded 1")).to_be_visible()
    expect(states.get_by_role("row", name="blocked 1")).to_be_visible()
    expect(page.get_by_text("/api/v1/inbound/crm/")).to_be_visible()
    screenshot()


def test_a_wrong_password_keeps_the_person_on_the_sign_in_page(page: Page, live_server, screenshot):
    from controltower.demo import demo_load

    demo_load()
    sign_in(page, live_server.url, "operator", "not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("didn't match")
    screenshot()
