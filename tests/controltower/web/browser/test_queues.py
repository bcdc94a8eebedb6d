"""The work queues in a real browser: resolve an exception and watch its transaction run again,
bulk-assign with progress, approve an invoice as a second person after the preparer is refused,
and a viewer who finds no action to take."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.controltower.web.browser.test_sign_in import sign_in
from tests.support.work_scene import SECOND_APPROVER

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

WIDE = {"width": 1280, "height": 900}
TABLET = {"width": 820, "height": 1100}


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()


def both_widths(page: Page, screenshot, label: str) -> None:
    """A screenshot at desktop width, then at tablet width, and back."""
    screenshot(label)
    page.set_viewport_size(TABLET)
    screenshot(f"{label}-tablet")
    page.set_viewport_size(WIDE)


@pytest.fixture
def blocked_customer():
    """The demo with its teams, and a customer event blocked by the unknown legal entity XX01."""
    from django.test import Client

    from controltower.operations.demo import demo_load, demo_operations_load
    from integrations.services.processing import transactions_process
    from tests.support.inbound import customer_event, signed_post

    demo_load()
    demo_operations_load()
    ids = signed_post(
        Client(), "crm", [customer_event("C-8002", name="Wayne Enterprises", legal_entity="XX01")]
    ).json()["transaction_ids"]
    transactions_process(ids=ids)
    return ids[0]


def test_an_admin_adds_the_missing_legal_entity_resolves_the_exception_and_its_transaction_runs(
    page: Page, live_server, screenshot, blocked_customer, celery_worker
):
    from controltower.operations.models import BusinessException
    from integrations.choices import TransactionState
    from integrations.models import Transaction

    base = live_server.url
    page.set_viewport_size(WIDE)
    sign_in(page, base, "admin", "admin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Exceptions").click()
    expect(page.get_by_role("heading", name="Exceptions", level=1)).to_be_visible()
    table = page.get_by_role("table")
    row = table.get_by_role("row", name=re.compile("C-8002"))
    expect(row).to_contain_text("Invalid legal entity")
    expect(row).to_contain_text("Master data")
    both_widths(page, screenshot, "queue")

    row.get_by_role("link", name="C-8002").click()
    expect(page.get_by_role("heading", name="Invalid legal entity: C-8002")).to_be_visible()
    expect(page.get_by_text("Legal entity 'XX01' does not exist.").first).to_be_visible()
    held = page.get_by_role("region", name=re.compile("Transactions it holds"))
    expect(held.get_by_role("row", name=re.compile(f"#{blocked_customer}"))).to_contain_text(
        "Blocked"
    )
    both_widths(page, screenshot, "exception")

    # Open the fix: the admin's add page, with the code filled in.
    page.get_by_role("link", name="Open the fix: Add legal entity XX01").click()
    expect(page).to_have_url(re.compile(r"/admin/canonical/legalentity/add/\?code=XX01"))
    expect(page.get_by_label("Code")).to_have_value("XX01")
    page.get_by_label("Name").fill("Wayne Holdings SARL")
    page.get_by_label("Country").fill("FR")
    page.get_by_label("Currency").fill("EUR")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("was added successfully")).to_be_visible()

    # Back on the exception: resolve it; its transaction is sent to run again.
    exception = BusinessException.objects.get(waiting_on="legal_entity:XX01")
    page.goto(f"{base}/exceptions/{exception.pk}/")
    page.get_by_label("Resolution").fill("Added XX01 in the admin")
    page.get_by_role("button", name="Resolve", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(
        "Resolved. 1 held transaction(s) sent to run again."
    )
    expect(page.get_by_text("Resolved by admin")).to_be_visible()

    # A real worker runs it; the exception's page shows it succeeded.
    held = page.get_by_role("region", name=re.compile("Transactions it held"))
    row = held.get_by_role("row", name=re.compile(f"#{blocked_customer}"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "Succeeded" not in row.inner_text():
        time.sleep(1)
        page.reload()
    expect(row).to_contain_text("Succeeded")
    assert Transaction.objects.get(pk=blocked_customer).state == TransactionState.SUCCEEDED
    expect(page.get_by_text("exception.resolve")).to_be_visible()  # the history
    both_widths(page, screenshot, "resolved")


def test_an_operator_assigns_two_exceptions_to_themselves_in_bulk_and_watches_the_progress(
    page: Page, live_server, screenshot, celery_worker
):
    from controltower.operations.models import BusinessException
    from tests.support.work_scene import work_scene

    scene = work_scene()
    base = live_server.url
    page.set_viewport_size(WIDE)
    sign_in(page, base, "operator", "operator")
    page.goto(f"{base}/exceptions/?tab=team")
    table = page.get_by_role("table")
    table.get_by_role("checkbox", name="Select TE-7002").check()
    table.get_by_role("checkbox", name="Select C-8002").check()
    page.get_by_text("Act on many at once").click()
    page.get_by_label("Action").select_option(label="Assign to me")
    expect(page.get_by_label("Person")).to_be_hidden()  # only what the action needs
    both_widths(page, screenshot, "bulk-form")
    page.get_by_role("button", name="Start").click()

    expect(page.get_by_role("heading", name="Assign to operator: 2 exceptions")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("2 done, 0 refused, of 2", timeout=60_000)
    expect(page.get_by_text("Finished")).to_be_visible()
    both_widths(page, screenshot, "bulk-done")
    page.get_by_role("link", name="Back to the queue").click()
    page.get_by_role("navigation", name="Queues").get_by_role(
        "link", name=re.compile("My queue")
    ).click()
    mine = page.get_by_role("table")
    for key in ("P-1042", "TE-7002", "C-8002"):
        expect(mine).to_contain_text(key)
    assert set(
        BusinessException.objects.filter(assignee=scene.users["operator"]).values_list(
            "business_key", flat=True
        )
    ) == {"P-1042", "TE-7002", "C-8002"}


def test_the_preparer_is_refused_and_a_second_approver_approves_the_invoice(
    page: Page, live_server, screenshot
):
    from canonical.choices import InvoiceStatus
    from canonical.models import Invoice
    from tests.support.work_scene import work_scene

    scene = work_scene()
    base = live_server.url
    page.set_viewport_size(WIDE)

    # The approver checks the September candidate and prepares it.
    sign_in(page, base, "approver", "approver")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals").click()
    card = page.get_by_role("article", name=re.compile("Invoice INV-3002"))
    expect(card).to_contain_text("Not prepared yet")
    card.get_by_label("Note for the approver (optional)").fill("Milestone M1 accepted by Acme")
    card.get_by_role("button", name="Prepare for approval").click()
    expect(page.get_by_role("status")).to_contain_text("Invoice INV-3002 is ready for approval")
    card = page.get_by_role("article", name=re.compile("Invoice INV-3002"))
    expect(card).to_contain_text("You prepared this; a second approver must approve it.")
    expect(card.get_by_role("button", name=re.compile("^Approve"))).to_have_count(0)
    both_widths(page, screenshot, "preparer")

    # Posting the approval anyway is refused by the service, with the reason.
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    refused = page.request.post(
        f"{base}/approvals/invoices/{scene.candidate.pk}/approve/",
        form={"approve-reason": "me again"},
        headers={"X-CSRFToken": token, "Referer": f"{base}/approvals/"},
    )
    assert refused.status == 403
    assert "You prepared invoice INV-3002" in refused.text()
    assert Invoice.objects.get(pk=scene.candidate.pk).status == InvoiceStatus.AWAITING_APPROVAL
    sign_out(page)

    # A second approver approves it.
    sign_in(page, base, SECOND_APPROVER, SECOND_APPROVER)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals").click()
    card = page.get_by_role("article", name=re.compile("Invoice INV-3002"))
    expect(card).to_contain_text("Prepared by approver")
    card.get_by_label("Note (optional)").fill("Matches the milestone certificate")
    card.get_by_role("button", name="Approve INV-3002").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Approved invoice INV-3002; it is being posted."
    )
    expect(page.get_by_role("article", name=re.compile("Invoice INV-3002"))).to_have_count(0)
    invoice = Invoice.objects.get(pk=scene.candidate.pk)
    assert (invoice.status, invoice.approved_by.username) == (
        InvoiceStatus.APPROVED,
        SECOND_APPROVER,
    )
    both_widths(page, screenshot, "approved")

    # The amendment conflict: its terms, before and after.
    page.get_by_role("navigation", name="What waits for approval").get_by_role(
        "link", name=re.compile("Amendment conflicts")
    ).click()
    diff = page.get_by_role("table")
    expect(diff.get_by_role("row", name=re.compile("Rate: Consultant"))).to_contain_text("changed")
    both_widths(page, screenshot, "amendment")


def test_a_viewer_reads_every_queue_page_and_finds_no_action_button(
    page: Page, live_server, screenshot
):
    from tests.support.work_scene import work_scene

    scene = work_scene()
    base = live_server.url
    page.set_viewport_size(WIDE)
    sign_in(page, base, "viewer", "viewer")
    forbidden = re.compile(
        r"^(Start|Resolve|Dismiss|Snooze|Assign|Assign to me|Approve.*|Reject|Reopen|Add comment|"
        r"Prepare for approval|Run reconciliation now)$"
    )
    pages = [
        ("/exceptions/", "queue"),
        (f"/exceptions/{scene.rate.pk}/", "exception"),
        (f"/exceptions/{scene.replay.pk}/", "replay"),
        ("/approvals/", "invoices"),
        ("/approvals/?kind=amendments", "amendments"),
        ("/slas/", "slas"),
        ("/slas/notifications/", "notifications"),
        ("/reconciliation/", "reconciliation"),
        (f"/reconciliation/runs/{scene.run.pk}/", "run"),
    ]
    for path, label in pages:
        page.goto(f"{base}{path}")
        expect(page.get_by_role("main")).to_be_visible()
        expect(page.get_by_role("button", name=forbidden)).to_have_count(0)
        expect(page.get_by_role("checkbox", name=re.compile("^Select"))).to_have_count(0)
        screenshot(f"viewer-{label}")
    page.goto(f"{base}/exceptions/{scene.rate.pk}/")
    expect(
        page.get_by_text("Your role can look at exceptions but not act on them.")
    ).to_be_visible()
    page.set_viewport_size(TABLET)
    screenshot("viewer-exception-tablet")


def test_an_approver_ticks_every_candidate_on_the_page_and_approves_them_together(
    page: Page, live_server, screenshot
):
    from canonical.choices import InvoiceStatus
    from canonical.models import Invoice
    from tests.support.work_scene import work_scene

    scene = work_scene()
    Invoice.objects.filter(pk=scene.candidate.pk).update(status=InvoiceStatus.AWAITING_APPROVAL)
    page.set_viewport_size(WIDE)
    sign_in(page, live_server.url, SECOND_APPROVER, SECOND_APPROVER)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Approvals").click()

    # Choosing a billing month shows that month's candidates and what they add up to.
    page.get_by_label("Billing month").select_option(label="September 2026")
    expect(page.get_by_text("1 candidate for September 2026: 3,800.00 USD")).to_be_visible()
    expect(page.get_by_role("article", name=re.compile("Invoice INV-3001"))).to_have_count(0)
    page.get_by_label("Billing month").select_option(label="Every month")
    expect(page.get_by_role("article", name=re.compile("Invoice INV-3001"))).to_have_count(1)

    page.get_by_label("Select every candidate on this page that you may approve").check()
    for number in ("INV-3001", "INV-3002"):
        expect(page.get_by_label(f"Select {number} to approve with others")).to_be_checked()
    page.get_by_label("Note for all (optional)").fill("October close")
    screenshot("ticked")
    page.get_by_role("button", name="Approve selected").click()

    expect(page.get_by_role("status")).to_contain_text("Approved 2 invoices; they are being posted")
    expect(page.get_by_role("article", name=re.compile("Invoice INV-300"))).to_have_count(0)
    assert set(
        Invoice.objects.filter(number__in=["INV-3001", "INV-3002"]).values_list("status", flat=True)
    ) == {InvoiceStatus.APPROVED}
    both_widths(page, screenshot, "approved-together")
