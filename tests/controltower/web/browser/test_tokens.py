"""Secrets in a real browser: a person makes an API token and sees its key once, then
revokes it; an admin rotates a system's signing secret and sees the new one once."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.controltower.web.browser.test_sign_in import sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_a_viewer_makes_a_token_sees_its_key_once_and_revokes_it(
    page: Page, live_server, screenshot
):
    from controltower.operations.demo import demo_load

    demo_load()
    sign_in(page, live_server.url, "viewer", "viewer")
    page.get_by_role("link", name="API tokens").click()
    page.get_by_label("What it is for").fill("weekly report")
    page.get_by_role("button", name="Make token").click()

    key = page.locator("#new-key").inner_text()
    assert len(key) == 64
    row = page.locator(f"#token-{key[:15]}")
    expect(row).to_contain_text("weekly report")
    expect(row).to_contain_text("Active")
    screenshot("made")

    page.goto(f"{live_server.url}/account/tokens/")
    expect(page.locator("#new-key")).to_have_count(0)
    page.locator(f"#token-{key[:15]}").get_by_role("button", name="Revoke").click()
    expect(page.locator(f"#token-{key[:15]}")).to_contain_text("Revoked")
    screenshot("revoked")


def test_an_admin_rotates_a_signing_secret_and_sees_it_once(page: Page, live_server, screenshot):
    from controltower.operations.demo import demo_load

    demo_load()
    sign_in(page, live_server.url, "admin", "admin")
    page.goto(f"{live_server.url}/systems/")
    page.locator("#system-crm").get_by_role("link", name="Signing secret").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Signing secret of CRM")
    page.get_by_label("Reason").fill("yearly rotation")
    page.get_by_role("button", name="Rotate").click()

    secret = page.locator("#new-secret").inner_text()
    assert len(secret) >= 40
    expect(page.get_by_role("status")).to_contain_text("still verifies until")
    screenshot("rotated")
    page.goto(f"{live_server.url}/systems/crm/signing-secret/")
    expect(page.locator("#new-secret")).to_have_count(0)
    expect(page.get_by_text("Set in the tower")).to_be_visible()
