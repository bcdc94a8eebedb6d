"""The lists keep up by themselves: a new exception appears in the open queue without a
reload, and a reader who has ticked rows keeps them, told that the list changed."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.controltower.web.browser.test_sign_in import sign_in
from tests.support.inbound import customer_event, events_post_over_http

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def blocked_once(settings):
    """Embedded mode polling quickly; the demo and one customer blocked on a legal entity."""
    from django.test import Client

    from controltower.operations.demo import demo_load
    from integrations.services.processing import transactions_process
    from tests.support.inbound import signed_post

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.CT_LIVE_POLL_SECONDS = 0.5
    settings.CT_LIVE_LIST_SECONDS = 0.5
    demo_load()
    ids = signed_post(Client(), "crm", [customer_event("C-8401", legal_entity="XX01")]).json()
    transactions_process(ids=ids["transaction_ids"])


def block(base: str, number: str, entity: str) -> None:
    from integrations.services.processing import transactions_process

    transactions_process(
        ids=events_post_over_http(base, customer_event(number, legal_entity=entity))
    )


def rows(page: Page):
    return page.locator("#list-live tbody tr")


def open_queue(page: Page, base: str) -> None:
    """The operator's open queue, holding the one exception ``blocked_once`` raised."""
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, base, "operator", "operator")
    page.goto(f"{base}/exceptions/")
    expect(rows(page)).to_have_count(1)


def test_a_new_exception_appears_in_the_open_queue_without_a_reload(
    page: Page, live_server, screenshot, blocked_once
):
    open_queue(page, live_server.url)
    expect(page.locator('[data-live-status="list-live"]')).to_contain_text("Updates every")
    page.evaluate("window.__stillTheSamePage = true")

    block(live_server.url, "C-8402", "YY01")

    expect(rows(page)).to_have_count(2)
    expect(page.locator("#list-live")).to_contain_text("Legal entity 'YY01' does not exist.")
    assert page.evaluate("window.__stillTheSamePage") is True
    screenshot()


def test_ticked_rows_are_kept_and_the_page_says_the_list_changed(
    page: Page, live_server, screenshot, blocked_once
):
    open_queue(page, live_server.url)
    rows(page).first.get_by_role("checkbox").check()

    block(live_server.url, "C-8403", "ZZ01")

    status = page.locator('[data-live-status="list-live"]')
    expect(status).to_contain_text("The list changed")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first.get_by_role("checkbox")).to_be_checked()
    screenshot()
    page.reload()
    expect(rows(page)).to_have_count(2)
