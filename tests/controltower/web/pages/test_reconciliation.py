"""Reconciliation reports: runs with their drift, the drill-down by project and period, run now."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.test import Client

from controltower.operations.models import AuditEvent
from integrations.choices import FlowKind, TransactionState
from integrations.models import Transaction
from tests.support.work_scene import work_scene

ROLES = ["viewer", "operator", "approver", "admin"]


@pytest.fixture
def scene(db):
    return work_scene()


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_runs_with_their_drift_and_only_operators_may_start_one(role, scene):
    response = signed_in(scene.users[role]).get("/reconciliation/")
    assert response.status_code == 200
    [row] = response.context["table"].rows
    assert row.obj.pk == scene.run.pk
    assert row.obj.drift_count == 2
    assert "2 drifts" in response.text and "2,400.00 USD" in response.text
    assert ("Run reconciliation now</button>" in response.text) == (role != "viewer")


@pytest.mark.django_db
def test_a_viewer_gets_403_when_starting_a_run(scene):
    response = signed_in(scene.users["viewer"]).post("/reconciliation/runs/", {"reason": "now"})
    assert response.status_code == 403
    assert not Transaction.objects.filter(
        event_type="reconciliation.run", pk__gt=scene.run.pk
    ).exists()


@pytest.mark.django_db
def test_an_operator_starts_a_run_through_the_service(scene):
    client = signed_in(scene.users["operator"])
    response = client.post("/reconciliation/runs/", {"reason": "Month end check"})
    assert response.status_code == 302
    run = Transaction.objects.filter(event_type="reconciliation.run").latest("pk")
    assert run.pk != scene.run.pk and run.flow.kind == FlowKind.RECONCILIATION
    assert run.state == TransactionState.RECEIVED
    audit = AuditEvent.objects.get(action="reconciliation.start")
    assert (audit.actor_name, audit.reason) == ("operator", "Month end check")
    page = client.get(response["Location"])
    assert f"Reconciliation run #{run.pk} is queued" in page.text
    assert "not finished" in page.text


@pytest.mark.django_db
def test_a_run_drills_down_by_project_and_period_with_the_tower_and_erp_figures(scene):
    response = signed_in(scene.users["viewer"]).get(f"/reconciliation/runs/{scene.run.pk}/")
    assert response.status_code == 200
    [group] = response.context["groups"]
    assert (group["project"], group["period"].isoformat()) == ("P-1042", "2026-08-01")
    figures = {(r.what, r.tower, r.erp) for r in group["rows"]}
    assert figures == {("Hours", "80.00 h", "72.00 h"), ("Invoice total", "12000.00", "10800.00")}
    assert "P-1042 · August 2026" in response.text
    assert f'href="/exceptions/{scene.drifts[0].pk}/"' in response.text


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["viewer", "operator", "approver", "admin"])
def test_the_invoice_totals_of_a_drift_are_masked_below_finance_and_its_hours_are_not(role, scene):
    client = signed_in(scene.users[role])
    sees = role in ("approver", "admin")

    page = client.get(f"/reconciliation/runs/{scene.run.pk}/")
    export = client.get(f"/reconciliation/runs/{scene.run.pk}/?export=csv")

    [group] = page.context["groups"]
    shown = {r.what: (r.tower_text, r.erp_text) for r in group["rows"]}
    assert shown["Hours"] == ("80.00 h", "72.00 h")
    assert shown["Invoice total"] == (("12000.00", "10800.00") if sees else ("•••", "•••"))
    assert ('<td class="num">•••</td>' in page.text) is not sees
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    assert sorted((r["Tower"], r["ERP"]) for r in rows) == sorted(
        [("80.00 h", "72.00 h"), ("12000.00", "10800.00") if sees else ("•••", "•••")]
    )


@pytest.mark.django_db
def test_the_runs_and_a_runs_drift_export_as_csv(scene):
    client = signed_in(scene.users["approver"])
    runs = client.get("/reconciliation/?export=csv")
    [run] = list(csv.DictReader(io.StringIO(b"".join(runs.streaming_content).decode("utf-8-sig"))))
    assert (run["Run"], run["Drift found"], run["Amount at stake"]) == (
        str(scene.run.pk),
        "2",
        "2,400.00 USD",
    )
    drift = client.get(f"/reconciliation/runs/{scene.run.pk}/?export=csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(drift.streaming_content).decode("utf-8-sig"))))
    assert sorted(
        (r["Project"], r["Period"], r["Tower"], r["ERP"], r["At stake"]) for r in rows
    ) == [
        ("P-1042", "August 2026", "12000.00", "10800.00", "1200.00"),
        ("P-1042", "August 2026", "80.00 h", "72.00 h", "1200.00"),
    ]


@pytest.mark.django_db
def test_the_runs_page_runs_a_bounded_number_of_queries(scene, django_assert_max_num_queries):
    client = signed_in(scene.users["operator"])
    client.get("/reconciliation/")
    with django_assert_max_num_queries(14) as few:
        client.get("/reconciliation/")
    for _ in range(10):
        Transaction.objects.create(
            flow=scene.run.flow,
            event_type="reconciliation.run",
            business_key=scene.run.business_key,
            correlation_id="x",
            state=TransactionState.SUCCEEDED,
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get("/reconciliation/")


@pytest.mark.django_db
def test_no_run_yet_says_one_runs_every_night(user_with_role):
    text = signed_in(user_with_role("viewer")).get("/reconciliation/").text
    assert "No reconciliation has run yet" in text
    assert "an operator can start one now" in text


# A real run against the simulated ERP, started from the page.

from tests.integrations.conftest import erp  # noqa: E402, F401 (a fixture)
from tests.integrations.test_time_to_billing import (  # noqa: E402
    staffed,  # noqa: F401 (a fixture)
    time_entry,
)
from tests.support.inbound import events_run  # noqa: E402


@pytest.mark.django_db(transaction=True)
def test_a_run_started_on_the_page_reports_the_hours_the_erp_bills_differently(
    staffed,  # noqa: F811
    user_with_role,
):
    from canonical.models import Invoice
    from controltower.operations.services.approvals import invoice_approve
    from integrations.models import SyncState
    from integrations.services.processing import transactions_process

    events_run(time_entry("T-70", hours=8), time_entry("T-71", hours=4), system="psa")
    invoice = Invoice.objects.get(number="INV-P-K-6001-202611")
    posting = invoice_approve(invoice_id=invoice.pk, actor=user_with_role("approver"))
    transactions_process(ids=[posting.pk])
    erp_id = SyncState.objects.get(content_type__model="invoice", system__slug="erp").external_id
    items = staffed.get(f"/services/rest/record/v1/invoice/{erp_id}").json()["item"]["items"]
    items[0]["quantity"] = "7"  # someone corrected the hours in the ERP only
    staffed.patch(f"/services/rest/record/v1/invoice/{erp_id}", json={"item": {"items": items}})

    client = signed_in(user_with_role("operator"))
    client.post("/reconciliation/runs/", {"reason": "hours check"})
    started = Transaction.objects.get(event_type="reconciliation.run")
    transactions_process(ids=[started.pk])

    listing = client.get("/reconciliation/")
    [row] = listing.context["table"].rows
    assert row.obj.drift_count == 1
    assert "300.00 USD" in listing.text
    page = client.get(f"/reconciliation/runs/{started.pk}/")
    [group] = page.context["groups"]
    assert group["project"] == "P-K-6001" and group["period"].isoformat() == "2026-11-01"
    [drift] = group["rows"]
    assert (drift.what, drift.tower, drift.erp) == ("Hours", "12.00 h", "11.00 h")

    # The next run finds the same drift: one exception, reported under both runs, once.
    client.post("/reconciliation/runs/", {"reason": "again"})
    second = Transaction.objects.filter(event_type="reconciliation.run").latest("pk")
    transactions_process(ids=[second.pk])
    rows = client.get("/reconciliation/").context["table"].rows
    assert [(r.obj.pk, r.obj.drift_count) for r in rows] == [(second.pk, 1), (started.pk, 1)]
    [again] = client.get(f"/reconciliation/runs/{second.pk}/").context["groups"][0]["rows"]
    assert again.exception.pk == drift.exception.pk
    assert again.exception.money_at_risk == Decimal("300.00")
    page = client.get(f"/exceptions/{drift.exception.pk}/").text
    assert f'<a href="/reconciliation/runs/{started.pk}/">run #{started.pk}</a>' in page
    assert f'<a href="/reconciliation/runs/{second.pk}/">run #{second.pk}</a>' in page
    assert "seen_by" not in page
