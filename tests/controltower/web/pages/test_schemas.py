"""A system's schema versions page: which versions of each event type it sent and how often,
the deprecated ones marked, beside the versions the tower reads."""

from __future__ import annotations

from django.test import Client

from integrations.models import Transaction
from tests.support.inbound import event, signed_post
from tests.support.pages import signed_in


def test_a_viewer_sees_what_a_system_sent_with_the_deprecated_version_marked(demo, user_with_role):
    entries = [
        event("time_entry.approved", {**data, "number": number, "hours": hours}) | extra
        for number, hours, extra in (
            ("T-1", 7.5, {}),
            ("T-2", 8, {}),
            ("T-3", "4.25", {"schema_version": 2}),
        )
        for data in [
            {"project": "P-1042", "resource": "E-0001", "work_date": "2026-11-02", "billable": True}
        ]
    ]
    assert signed_post(Client(), "psa", entries).status_code == 202
    viewer = signed_in(user_with_role("viewer"))
    assert b"/systems/psa/schemas/" in viewer.get("/systems/").content
    page = viewer.get("/systems/psa/schemas/").text
    assert "Schema versions of PSA" in page
    assert "2 events in a deprecated version." in page
    v1 = page.split('id="usage-time_entry.approved-v1"')[1].split("</tr>")[0]
    v2 = page.split('id="usage-time_entry.approved-v2"')[1].split("</tr>")[0]
    assert "Deprecated" in v1 and "from 2027-03-01" in v1 and ">2</td>" in v1
    assert "Current" in v2 and "Deprecated" not in v2 and ">1</td>" in v2
    registry = page.split('id="schema-time_entry.approved"')[1].split("</tr>")[0]
    assert "time_entry.approved.v2.json" in registry
    first = Transaction.objects.get(business_key="T-1")
    detail = viewer.get(f"/transactions/{first.pk}/").text
    assert "time_entry.approved v1 as sent, upcast to v2" in detail


def test_a_system_that_sent_nothing_says_so_and_an_unknown_one_is_not_found(demo, user_with_role):
    viewer = signed_in(user_with_role("viewer"))
    assert (
        "CRM sent no canonical event in the last 30 days."
        in viewer.get("/systems/crm/schemas/").text
    )
    assert viewer.get("/systems/nowhere/schemas/").status_code == 404
    assert signed_in(user_with_role(None)).get("/systems/crm/schemas/").status_code == 403
