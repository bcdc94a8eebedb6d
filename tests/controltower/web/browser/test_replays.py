"""An approved replay closes the original, in a real browser: an approver replays a blocked
time entry with the right person, a second approver approves it, a real worker runs it, and
the original reads "Replaced by a replay" with its exception resolved, both linked."""

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
PASSWORD = "pw-for-tests-9"  # the ``user_with_role`` fixture's


@pytest.fixture
def blocked_time(simulator):
    """Contract K-7501 signed and staffed with Grace Hopper; 6 h booked by E-0003, who is not
    on the project, blocked."""
    from integrations.choices import TransactionState
    from tests.support.inbound import contract_event, event, events_run

    [signed] = events_run(contract_event("K-7501"), system="clm")
    assert signed.state == TransactionState.SUCCEEDED, signed.last_error
    assignment = {
        "number": "A-7501",
        "project": "P-K-7501",
        "resource": "E-0002",
        "role": "Manager",
        "start_date": "2026-11-02",
        "allocation_percent": 50,
    }
    [staffing] = events_run(event("assignment.upserted", assignment), system="psa")
    assert staffing.state == TransactionState.SUCCEEDED, staffing.last_error
    entry = {
        "number": "T-7501",
        "project": "P-K-7501",
        "resource": "E-0003",
        "work_date": "2026-11-03",
        "hours": 6,
        "billable": True,
    }
    [original] = events_run(event("time_entry.approved", entry), system="psa")
    assert original.state == TransactionState.BLOCKED, original.last_error
    return original


def test_an_approved_replay_closes_the_original(
    page: Page, live_server, screenshot, blocked_time, user_with_role, celery_worker
):
    from controltower.operations.models import BusinessException
    from integrations.choices import ExceptionStatus, TransactionState
    from integrations.models import Transaction

    user_with_role("approver", "ada")
    user_with_role("approver", "bob")
    base = live_server.url
    original = blocked_time
    page.set_viewport_size(WIDE)

    # Ada replays the blocked entry with the person who did the work.
    sign_in(page, base, "ada", PASSWORD)
    page.goto(f"{base}/transactions/{original.pk}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Blocked")
    page.get_by_text("Replay with an edited payload…").click()
    edit = page.locator("details.edit-replay")
    payload = edit.get_by_label("Edited normalized event (JSON)")
    payload.fill(payload.input_value().replace('"E-0003"', '"E-0002"'))
    edit.get_by_label("Reason").fill("Grace did the work")
    screenshot("edited")
    edit.get_by_role("button", name="Replay the edited event").click()
    expect(page.get_by_role("status")).to_contain_text("waits for a second approver")
    replay = Transaction.objects.get(parent=original)
    expect(page).to_have_url(f"{base}/transactions/{replay.pk}/")

    # A second click on the original's replay makes no second replay.
    page.goto(f"{base}/transactions/{original.pk}/")
    page.get_by_role("button", name="Replay as received").click()
    expect(page.get_by_role("alert").first).to_contain_text(
        f"A replay of transaction {original.pk} is already running: #{replay.pk}."
    )
    assert Transaction.objects.filter(parent=original).count() == 1
    page.get_by_role("button", name="Sign out").click()

    # Bob approves it in the approvals inbox.
    sign_in(page, base, "bob", PASSWORD)
    page.goto(f"{base}/approvals/?kind=replays")
    card = page.get_by_role("article", name=re.compile("T-7501"))
    expect(card).to_contain_text("prepared by ada")
    card.get_by_label("Note (optional)").fill("Matches the PSA")
    card.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_contain_text("what it held runs now")

    # A real worker runs the replay; the original is replaced, linked both ways.
    page.goto(f"{base}/transactions/{original.pk}/")
    deadline = time.monotonic() + 60
    while (
        time.monotonic() < deadline
        and "Replaced by a replay" not in page.locator("h1").inner_text()
    ):
        time.sleep(1)
        page.reload()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Replaced by a replay")
    summary = page.get_by_role("region", name="Summary")
    expect(summary.get_by_role("link", name=f"#{replay.pk}")).to_be_visible()
    lineage = page.get_by_role("region", name="Lineage")
    expect(lineage).to_contain_text("Part of contract K-7501")
    expect(lineage.get_by_role("listitem").filter(has_text=f"#{replay.pk}")).to_contain_text(
        "replaced this one"
    )
    screenshot("replaced")

    # Its exception is resolved, naming the replay.
    page.get_by_role("link", name=f"Exception #{original.exception_id}").click()
    expect(page.get_by_text(f"was replaced by replay #{replay.pk}").first).to_be_visible()
    screenshot("exception-resolved")

    # The replay's page leads back to the original it replaced.
    page.goto(f"{base}/transactions/{replay.pk}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Succeeded")
    expect(page.get_by_role("region", name="Summary")).to_contain_text(
        f"#{original.pk}, which it replaced"
    )
    original.refresh_from_db()
    assert (original.state, original.replaced_by_id) == (TransactionState.REPLACED, replay.pk)
    assert (
        BusinessException.objects.get(pk=original.exception_id).status == ExceptionStatus.RESOLVED
    )
