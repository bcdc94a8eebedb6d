"""The approvals inbox: invoice candidates, amendment conflicts and edited replays, with four eyes."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.test import Client

from canonical.choices import InvoiceStatus
from controltower.operations.models import AuditEvent
from integrations.choices import ExceptionStatus, TransactionState
from integrations.models import Transaction
from tests.support.work_scene import SECOND_APPROVER, work_scene

pytestmark = pytest.mark.django_db

ROLES = ["viewer", "operator", "approver", "admin"]
KINDS = ["invoices", "amendments", "replays"]


@pytest.fixture
def scene():
    return work_scene()


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_each_kind_of_approval(role, kind, scene):
    response = signed_in(scene.users[role]).get(f"/approvals/?kind={kind}")
    assert response.status_code == 200
    tabs = {t["key"]: t["count"] for t in response.context["tabs"]}
    assert tabs == {"invoices": 2, "amendments": 1, "replays": 1}
    text = response.text
    expected = {"invoices": "INV-3001", "amendments": "K-5001", "replays": "TE-7003"}[kind]
    assert expected in text
    # Operators prepare invoices; only approvers decide on what exceptions hold.
    acts = role in ("approver", "admin") or (role == "operator" and kind == "invoices")
    actions = ("/approvals/invoices/", "/approvals/exceptions/")
    assert any(action in text for action in actions) == acts


def test_an_invoice_candidate_shows_its_lines_hours_rates_and_total(scene):
    text = signed_in(scene.users["admin"]).get("/approvals/").text
    assert "C-1001 Acme Corporation" in text and "P-1042" in text and "October 2026" in text
    assert "8,925.00 USD" in text
    assert "3 lines · 22.50 h" in text
    # The lines are one click away, not unfolded: the inbox is a list of totals.
    assert "<details>\n    <summary>The 3 lines</summary>" in text and "<details open" not in text
    assert "6.50 h" in text and "450.00" in text and "2,925.00" in text
    assert "Time entry TE-1007" in text
    assert "Prepared by <strong>approver</strong>" in text
    assert "Not prepared yet" in text  # INV-3002
    assert "still running" not in text  # October is over
    with time_machine.travel(dt.datetime(2026, 10, 20, 12, tzinfo=dt.UTC)):
        during = signed_in(scene.users["viewer"]).get("/approvals/").text
    assert "October 2026, still running until 31 Oct: more time may come" in during


@pytest.mark.parametrize("role", ROLES)
def test_rates_amounts_and_the_names_on_lines_are_masked_unless_finance_or_admin(role, scene):
    client = signed_in(scene.users[role])
    sees = role in ("approver", "admin")

    text = client.get("/approvals/").text
    export = client.get("/approvals/?kind=invoices&export=csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    by_amount = [r.obj.number for r in client.get("/approvals/?sort=amount").context["table"].rows]

    for value in ("8,925.00 USD", "12,725.00 USD", "450.00", "2,925.00"):
        assert (value in text) is sees, value
    assert ("•••" in text) is not sees
    assert "3 lines · 22.50 h" in text and "6.50 h" in text  # hours are not pricing
    assert "C-1001 Acme Corporation" in text  # a customer is a company, not a person
    assert [r["Total"] for r in rows] == (["8925.00", "3800.00"] if sees else ["•••", "•••"])
    # Sorting by what one may not see would tell it: the list keeps its own order.
    assert by_amount == (["INV-3002", "INV-3001"] if sees else ["INV-3001", "INV-3002"])
    line = next(iter(client.get("/approvals/").context["table"].rows)).obj.shown_lines[0]
    assert (line.shown["description"] == line.description) is sees


def test_a_candidate_the_flow_built_says_any_approver_may_approve_it(scene):
    from canonical.models import Invoice

    Invoice.objects.filter(number="INV-3001").update(prepared_by=None)
    text = signed_in(scene.users["approver"]).get("/approvals/").text
    assert "no person prepared it, so any approver may approve it" in text
    assert "Approve INV-3001" in text


def test_a_viewer_sees_no_buttons_and_gets_403_on_every_post(scene):
    client = signed_in(scene.users["viewer"])
    for kind in KINDS:
        text = client.get(f"/approvals/?kind={kind}").text
        assert (
            ">Approve" not in text and "Reject" not in text and "Prepare for approval" not in text
        )
    before = AuditEvent.objects.count()
    posts = [
        (f"/approvals/invoices/{scene.candidate.pk}/prepare/", {}),
        (f"/approvals/invoices/{scene.prepared.pk}/approve/", {}),
        (f"/approvals/invoices/{scene.prepared.pk}/reject/", {"reject-reason": "no"}),
        (f"/approvals/exceptions/{scene.amendment.pk}/approve/", {}),
        (f"/approvals/exceptions/{scene.replay.pk}/reject/", {"reject-reason": "no"}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    assert AuditEvent.objects.count() == before


def test_the_preparer_is_told_four_eyes_and_refused_if_they_post_approve(scene):
    preparer = signed_in(scene.users["approver"])
    page = preparer.get("/approvals/")
    card = page.text.split(f'id="invoice-{scene.prepared.pk}"')[1].split("</article>")[0]
    assert "You prepared this;</strong> a second approver must approve it." in card
    assert "Approve INV-3001" not in card
    refused = preparer.post(f"/approvals/invoices/{scene.prepared.pk}/approve/?kind=invoices", {})
    assert refused.status_code == 403
    assert (
        "You prepared invoice INV-3001; a second person with the approver role must approve it."
        in refused.text
    )
    scene.prepared.refresh_from_db()
    assert scene.prepared.status == InvoiceStatus.AWAITING_APPROVAL


def test_a_second_approver_approves_and_the_invoice_goes_to_the_erp(scene):
    second = signed_in(scene.users[SECOND_APPROVER])
    assert "Approve INV-3001" in second.get("/approvals/").text
    response = second.post(
        f"/approvals/invoices/{scene.prepared.pk}/approve/?kind=invoices&sort=-amount",
        {"approve-reason": "Checked against the timesheets"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/approvals/?kind=invoices&sort=-amount"
    scene.prepared.refresh_from_db()
    assert scene.prepared.status == InvoiceStatus.APPROVED
    assert scene.prepared.approved_by == scene.users[SECOND_APPROVER]
    posting = Transaction.objects.get(event_type="invoice.approved")
    assert posting.business_key == "INV-3001"
    assert (
        AuditEvent.objects.get(action="invoice.approve").reason == "Checked against the timesheets"
    )
    assert "Approved invoice INV-3001" in second.get(response["Location"]).text


def test_ticked_candidates_are_approved_together_and_a_refusal_is_named(scene):
    from canonical.models import Invoice

    Invoice.objects.filter(pk=scene.candidate.pk).update(status=InvoiceStatus.AWAITING_APPROVAL)
    preparer = signed_in(scene.users["approver"])
    page = preparer.get("/approvals/").text
    # The preparer may tick only what someone else prepared (or no one did).
    assert f'name="invoice" value="{scene.candidate.pk}"' in page
    assert f'name="invoice" value="{scene.prepared.pk}"' not in page

    response = preparer.post(
        "/approvals/invoices/approve/?kind=invoices",
        {"invoice": [scene.prepared.pk, scene.candidate.pk], "bulk-reason": "October close"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/approvals/?kind=invoices"
    statuses = dict(Invoice.objects.values_list("number", "status"))
    assert statuses["INV-3001"] == InvoiceStatus.AWAITING_APPROVAL  # four eyes
    assert statuses["INV-3002"] == InvoiceStatus.APPROVED
    assert Transaction.objects.get(event_type="invoice.approved").business_key == "INV-3002"
    assert AuditEvent.objects.get(action="invoice.approve").reason == "October close"
    after = preparer.get(response["Location"]).text
    assert "Approved 1 invoice; it is being posted: INV-3002." in after
    assert "INV-3001 was not approved: You prepared invoice INV-3001" in after


def test_the_inbox_narrows_to_a_billing_month_and_says_what_it_adds_up_to(scene):
    viewer = signed_in(scene.users["approver"])
    every = viewer.get("/approvals/").text
    assert '<option value="2026-10">October 2026</option>' in every
    assert '<option value="2026-09">September 2026</option>' in every
    assert "2 candidates</strong>: 12,725.00 USD" in every  # 8,925.00 + 3,800.00

    october = viewer.get("/approvals/?kind=invoices&period=2026-10").text
    assert "INV-3001" in october and "INV-3002" not in october
    assert "1 candidate</strong> for October 2026: 8,925.00 USD" in october
    assert '<option value="2026-10" selected>' in october
    export = viewer.get("/approvals/?kind=invoices&period=2026-09&export=csv")
    csv_text = b"".join(export.streaming_content).decode()
    assert "INV-3002" in csv_text and "INV-3001" not in csv_text

    empty = viewer.get("/approvals/?kind=invoices&period=2026-08").text
    assert "Nothing waiting for August 2026." in empty
    assert viewer.get("/approvals/?kind=invoices&period=soon").status_code == 200  # ignored


def test_approving_together_needs_a_choice_and_the_approver_role(scene):
    approver = signed_in(scene.users[SECOND_APPROVER])
    nothing = approver.post("/approvals/invoices/approve/", {})
    assert nothing.status_code == 400 and "Choose the invoices to approve." in nothing.text
    operator = signed_in(scene.users["operator"])
    assert (
        operator.post("/approvals/invoices/approve/", {"invoice": [scene.prepared.pk]}).status_code
        == 403
    )
    scene.prepared.refresh_from_db()
    assert scene.prepared.status == InvoiceStatus.AWAITING_APPROVAL


def test_the_api_approves_several_and_lists_what_it_refused(scene, api_client_for):
    client = api_client_for(scene.users[SECOND_APPROVER])
    response = client.post(
        "/api/v1/invoices/approve/",
        {"ids": [scene.prepared.pk, 999_999], "reason": "close"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert [(a["id"], a["number"]) for a in body["approved"]] == [(scene.prepared.pk, "INV-3001")]
    assert (
        body["approved"][0]["posting"] == Transaction.objects.get(event_type="invoice.approved").pk
    )
    assert body["refused"] == [
        {"id": 999_999, "number": "", "reason": "Invoice 999999 does not exist."}
    ]
    empty = client.post("/api/v1/invoices/approve/", {"ids": []}, format="json")
    assert empty.status_code == 400 and "ids" in empty.json()["errors"]


def test_an_operator_prepares_a_candidate_and_may_not_approve_it(scene):
    operator = signed_in(scene.users["operator"])
    page = operator.get("/approvals/").text
    assert "Prepare for approval" in page
    assert "Approve INV-" not in page and "Reject INV-" not in page
    operator.post(
        f"/approvals/invoices/{scene.candidate.pk}/prepare/", {"prepare-note": "Milestone accepted"}
    )
    scene.candidate.refresh_from_db()
    assert scene.candidate.status == InvoiceStatus.AWAITING_APPROVAL
    assert scene.candidate.prepared_by == scene.users["operator"]
    assert (
        operator.post(f"/approvals/invoices/{scene.candidate.pk}/approve/", {}).status_code == 403
    )


def test_rejecting_needs_a_reason_and_releases_the_time(scene):
    approver = signed_in(scene.users[SECOND_APPROVER])
    empty = approver.post(f"/approvals/invoices/{scene.prepared.pk}/reject/", {"reject-reason": ""})
    assert empty.status_code == 400
    assert "A reason is required to reject." in empty.text
    approver.post(
        f"/approvals/invoices/{scene.prepared.pk}/reject/", {"reject-reason": "Wrong month"}
    )
    scene.prepared.refresh_from_db()
    assert scene.prepared.status == InvoiceStatus.REJECTED
    assert not scene.prepared.time_entries.exists()


def test_an_amendment_conflict_shows_the_terms_before_and_after(scene):
    response = signed_in(scene.users["approver"]).get("/approvals/?kind=amendments")
    [row] = response.context["table"].rows
    changed = {r.label: (r.before, r.after) for r in row.obj.view["rows"] if r.changed}
    assert changed == {
        "End date": ("2026-12-31", "2027-03-31"),
        "Cap": ("250,000.00", "300,000.00"),
        "Rate: Consultant": ("190.00", "170.00"),
    }
    assert "800.00 USD" in response.text
    assert "version 1" in response.text and "version 2, effective 2026-10-01" in response.text


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_an_amendment_conflict_says_which_rates_change_but_not_to_what_below_finance(role, scene):
    client = signed_in(scene.users[role])
    response = client.get("/approvals/?kind=amendments")
    [row] = response.context["table"].rows
    detail = client.get(f"/exceptions/{row.obj.pk}/")

    for rows in (row.obj.view["rows"], detail.context["amendment"]["rows"]):
        changed = {r.label: (r.before, r.after) for r in rows if r.changed}
        assert changed == {
            "End date": ("2026-12-31", "2027-03-31"),
            "Cap": ("•••", "•••"),
            "Rate: Consultant": ("•••", "•••"),
        }
    for text in (response.text, detail.text):
        table = text.split('<table class="terms-diff">')[1].split("</table>")[0]
        assert "190.00" not in table and "•••" in table


def test_approving_an_amendment_conflict_re_runs_the_held_amendment(scene):
    approver = signed_in(scene.users["approver"])
    response = approver.post(
        f"/approvals/exceptions/{scene.amendment.pk}/approve/?kind=amendments",
        {"approve-reason": "Credit note agreed"},
    )
    assert response.status_code == 302
    scene.amendment.refresh_from_db()
    assert scene.amendment.status == ExceptionStatus.RESOLVED
    held = Transaction.objects.get(event_type="contract.amended")
    assert held.state == TransactionState.RECEIVED


def test_an_edited_replay_shows_the_edited_fields_and_four_eyes_holds(scene):
    scene.replay.prepared_by = scene.users["approver"]
    scene.replay.save()
    approver = signed_in(scene.users["approver"])
    text = approver.get("/approvals/?kind=replays").text
    assert "data.hours" in text and "8.00" in text and "7.50" in text
    assert "Hours were keyed as 8, the timesheet says 7.5" in text
    assert "You prepared this;</strong> a second approver must approve it." in text
    refused = approver.post(f"/approvals/exceptions/{scene.replay.pk}/approve/?kind=replays", {})
    assert refused.status_code == 403
    assert "a second person with the approver role must approve it" in refused.text
    signed_in(scene.users[SECOND_APPROVER]).post(
        f"/approvals/exceptions/{scene.replay.pk}/reject/", {"reject-reason": "Keep the 8 hours"}
    )
    scene.replay.refresh_from_db()
    assert scene.replay.status == ExceptionStatus.DISMISSED
    assert (
        Transaction.objects.get(pk=scene.replay.details["replay"]).state
        == TransactionState.CANCELLED
    )


def test_search_sort_and_csv_of_the_invoice_candidates(scene):
    client = signed_in(scene.users["approver"])
    by_amount = [r.obj.number for r in client.get("/approvals/?sort=amount").context["table"].rows]
    assert by_amount == ["INV-3002", "INV-3001"]
    assert [r.obj.number for r in client.get("/approvals/?q=3002").context["table"].rows] == [
        "INV-3002"
    ]
    response = client.get("/approvals/?kind=invoices&export=csv")
    rows = list(
        csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")))
    )
    assert [(r["Invoice"], r["Total"], r["Currency"], r["Prepared by"]) for r in rows] == [
        ("INV-3001", "8925.00", "USD", "approver"),
        ("INV-3002", "3800.00", "USD", ""),
    ]
    held = client.get("/approvals/?kind=amendments&export=csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(held.streaming_content).decode("utf-8-sig"))))
    assert [(r["Business key"], r["Money at stake"]) for r in rows] == [("K-5001", "800.00")]


def test_an_empty_inbox_says_what_happens_next(user_with_role):
    from controltower.operations.demo import demo_load

    demo_load()
    text = signed_in(user_with_role("approver")).get("/approvals/").text
    assert "No invoice candidates wait for approval." in text


@pytest.mark.parametrize("kind", KINDS)
def test_the_inbox_runs_a_bounded_number_of_queries(kind, scene, django_assert_max_num_queries):
    client = signed_in(scene.users["approver"])
    client.get(f"/approvals/?kind={kind}")
    with django_assert_max_num_queries(20):
        assert client.get(f"/approvals/?kind={kind}").status_code == 200
