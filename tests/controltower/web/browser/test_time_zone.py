"""A person's own time zone in a real browser: chosen on the account page, it wins over the
browser's zone on every page, named in the footer."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from tests.controltower.web.browser.test_sign_in import sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_a_viewer_in_tokyo_chooses_new_york_and_reads_every_time_in_it(browser, live_server):
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
        row = page.get_by_role("row", name=re.compile("Noon in London"))
        expect(row).to_contain_text("15 Jan 2026 21:00")  # the browser's Tokyo, UTC+9

        page.locator("footer").get_by_role("link", name="Change").click()
        page.get_by_role("combobox", name="Time zone").select_option("America/New_York")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("status")).to_contain_text("America/New_York")

        page.goto(f"{live_server.url}/audit/")
        expect(page.locator("footer")).to_contain_text(
            "Times are shown in America/New_York (your setting)"
        )
        row = page.get_by_role("row", name=re.compile("Noon in London"))
        expect(row).to_contain_text("15 Jan 2026 07:00")  # New York, UTC-5
    finally:
        context.close()
