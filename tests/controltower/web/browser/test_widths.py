"""Every list page at 1280 px wide, with the demo and a working day's data: nothing runs off
the right edge (the columns that matter are in the table, the rest in the detail)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.controltower.web.browser.test_sign_in import sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

WIDTH = 1280

LISTS = [
    "/",
    "/transactions/",
    "/exceptions/",
    "/approvals/",
    "/records/",
    "/systems/",
    "/reconciliation/",
    "/slas/",
    "/slas/history/",
    "/slas/notifications/",
    "/config/",
    "/audit/",
    "/imports/",
    "/search/?q=wayne",
    "/account/tokens/",
    "/account/time-zone/",
]


# A table that scrolls inside its own box hides columns as surely as a page that does.
SCROLLING_BOXES = """[...document.querySelectorAll('main *')].filter(e => {
    const overflow = getComputedStyle(e).overflowX;
    return (overflow === 'auto' || overflow === 'scroll') && e.scrollWidth > e.clientWidth + 1;
}).length"""


def overflowing(page: Page, base: str, paths: list[str]) -> dict[str, tuple[int, int]]:
    wide: dict[str, tuple[int, int]] = {}
    for path in paths:
        answer = page.goto(f"{base}{path}")
        assert answer is not None and answer.status == 200, path
        expect(page.locator("main")).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        boxes = page.evaluate(SCROLLING_BOXES)
        if width > WIDTH or boxes:
            wide[path] = (width, boxes)
    return wide


def test_no_list_page_is_wider_than_a_1280_px_window(page: Page, live_server):
    from controltower.web.pages.config import SECTIONS
    from tests.support.work_scene import work_scene

    work_scene()
    page.set_viewport_size({"width": WIDTH, "height": 900})
    sign_in(page, live_server.url, "admin", "admin")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    paths = LISTS + [f"/config/{slug}/" for slug in SECTIONS]
    assert overflowing(page, live_server.url, paths) == {}
