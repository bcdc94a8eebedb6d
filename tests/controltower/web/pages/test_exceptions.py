"""The exception queues and one exception's page: who sees what, filters, bulk actions, the fix."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from canonical.models import LegalEntity
from controltower.operations.choices import BulkStatus
from controltower.operations.models import (
    AuditEvent,
    BulkOperation,
    BusinessException,
    ExceptionComment,
)
from controltower.operations.selectors.exceptions import exception_fix_link
from controltower.operations.services.bulk import bulk_operation_run
from integrations.choices import ExceptionStatus, ExceptionType, TransactionState
from tests.factories.operations import BusinessExceptionFactory
from tests.support.work_scene import SECOND_APPROVER, work_scene

pytestmark = pytest.mark.django_db

ROLES = ["viewer", "operator", "approver", "admin"]


@pytest.fixture
def scene():
    return work_scene()


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def keys(response) -> list[str]:
    return [row.obj.business_key for row in response.context["table"].rows]


# The queue


@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_queue_and_only_a_worker_gets_the_bulk_actions(role, scene):
    response = signed_in(scene.users[role]).get("/exceptions/")
    assert response.status_code == 200
    assert "P-1042" in response.text
    assert "18,400.00 USD" in response.text
    if role == "viewer":
        assert "Act on many at once" not in response.text
        assert 'name="ids"' not in response.text
    else:
        assert "Act on many at once" in response.text
        assert f'name="ids" value="{scene.rate.pk}"' in response.text


def test_the_queue_shows_open_awake_items_biggest_money_first(scene):
    response = signed_in(scene.users["viewer"]).get("/exceptions/")
    shown = keys(response)
    assert shown[:2] == ["P-1042", "TE-7002"]
    assert "K-7777" not in shown  # snoozed until tomorrow
    assert "TE-0900" not in shown  # resolved
    moneys = [row.obj.money_at_risk for row in response.context["table"].rows]
    assert moneys == sorted(moneys, reverse=True)
    # Work with no price on it shows a dash, not a bare 0.00.
    money = {
        row.obj.business_key: next(str(c.content) for c in row.cells if c.key == "money")
        for row in response.context["table"].rows
    }
    assert money["P-1042"] == "18,400.00 USD" and money["C-8002"] == "—"
    detail = signed_in(scene.users["viewer"]).get(f"/exceptions/{scene.entity.pk}/")
    assert "None: it holds up no priced work" in detail.text


def test_the_status_and_snoozed_filters_bring_back_closed_and_snoozed_items(scene):
    client = signed_in(scene.users["viewer"])
    resolved = client.get("/exceptions/?status=resolved&status=dismissed")
    assert keys(resolved) == ["TE-0900"]
    snoozed = client.get("/exceptions/?snoozed=true")
    assert keys(snoozed) == ["K-7777"]
    assert "snoozed until" in snoozed.text
    every = client.get("/exceptions/?snoozed=unknown")
    assert "K-7777" in keys(every) and "P-1042" in keys(every)


def test_my_queue_holds_what_is_assigned_to_me_and_my_teams_what_my_teams_own(scene):
    operator = signed_in(scene.users["operator"])
    assert keys(operator.get("/exceptions/?tab=mine")) == ["P-1042"]
    team = keys(operator.get("/exceptions/?tab=team"))
    assert {"P-1042", "TE-7002", "C-8002"} <= set(team)  # Finance operations and Master data
    viewer = signed_in(scene.users["viewer"])
    mine = viewer.get("/exceptions/?tab=mine")
    assert keys(mine) == []
    assert "Nothing is assigned to you" in mine.text
    assert "You are not a member of any team" in viewer.get("/exceptions/?tab=team").text


def test_the_tabs_count_open_awake_items_and_keep_the_filters(scene):
    response = signed_in(scene.users["operator"]).get("/exceptions/?severity=high&tab=all")
    tabs = {t["key"]: t for t in response.context["tabs"]}
    assert tabs["mine"]["count"] == 1
    assert tabs["all"]["count"] == 7
    assert "severity=high" in tabs["mine"]["url"] and "tab=mine" in tabs["mine"]["url"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("exception_type=billing_hold", ["TE-7002"]),
        ("customer=C-1001&money_min=1000", ["P-1042", "TE-7002"]),
        ("legal_entity=US01&severity=medium", ["TE-7002"]),
        ("assignee=operator", ["P-1042"]),
        ("assignee=me", []),
        ("q=XX01", ["C-8002"]),
        ("contract=k-5001", ["K-5001"]),
        ("project=P-1042", ["P-1042"]),
    ],
)
def test_the_queue_filters_by_the_shared_filterset(query, expected, scene):
    response = signed_in(scene.users["viewer"]).get(f"/exceptions/?{query}")
    assert keys(response) == expected
    assert response.context["table"].filtered


def test_the_team_filter_offers_team_names(scene):
    response = signed_in(scene.users["viewer"]).get(f"/exceptions/?team={scene.master_data.pk}")
    assert set(keys(response)) == {"C-8002"}
    assert ">Master data</option>" in response.text


def test_the_queue_finds_what_no_team_owns(scene):
    BusinessException.objects.filter(business_key="C-8002").update(team=None)
    viewer = signed_in(scene.users["viewer"])
    assert keys(viewer.get("/exceptions/?no_team=true")) == ["C-8002"]
    assert "C-8002" not in keys(viewer.get("/exceptions/?no_team=false"))
    assert "No team owns it" in viewer.get("/exceptions/").text


def test_sla_due_says_breached_and_at_risk_in_words(scene):
    text = signed_in(scene.users["viewer"]).get("/exceptions/").text
    assert '<span class="badge danger">Breached</span>' in text
    assert '<span class="badge warning">At risk</span>' in text


def test_sorting_by_a_column_and_back(scene):
    client = signed_in(scene.users["viewer"])
    by_key = keys(client.get("/exceptions/?sort=business_key"))
    assert by_key == sorted(by_key)
    assert keys(client.get("/exceptions/?sort=-business_key")) == sorted(by_key, reverse=True)


def test_the_csv_has_the_filtered_queue_with_its_business_columns(scene):
    response = signed_in(scene.users["viewer"]).get("/exceptions/?customer=C-1001&export=csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(
        csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")))
    )
    assert [r["Business key"] for r in rows] == ["P-1042", "TE-7002", "K-5001"]
    first = rows[0]
    assert first["Money at risk"] == "18400.00" and first["Currency"] == "USD"
    assert first["Customer"] == "C-1001" and first["Occurrences"] == "3"
    assert first["Waiting on"] == "rate_card:RC-US-STD:ARCHITECT"
    assert "select" not in first


def test_the_queue_page_runs_the_same_number_of_queries_for_many_rows(
    scene, django_assert_max_num_queries
):
    client = signed_in(scene.users["operator"])
    client.get("/exceptions/")  # warm the session and content types
    with django_assert_max_num_queries(30) as few:
        client.get("/exceptions/")
    for n in range(30):
        BusinessExceptionFactory(
            team=scene.finance,
            customer=scene.rate.customer,
            assignee=scene.users["operator"],
            money_at_risk=Decimal(n),
            sla_due_at=timezone.now() - dt.timedelta(minutes=n),
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/exceptions/")
    assert len(response.context["table"].rows) == 25


# Bulk actions


def test_a_bulk_action_on_ticked_rows_calls_the_service_and_shows_its_progress(scene):
    client = signed_in(scene.users["operator"])
    response = client.post(
        "/exceptions/bulk/?tab=all",
        {
            "action": "resolve",
            "scope": "selected",
            "ids": [scene.hold.pk, scene.amendment.pk],
            "text": "Hold lifted by finance",
        },
    )
    operation = BulkOperation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/exceptions/bulk/{operation.pk}/"
    assert operation.selection == {"ids": [scene.hold.pk, scene.amendment.pk]}
    assert operation.params == {"resolution": "Hold lifted by finance"}
    queued = client.get(response["Location"])
    assert "Queued" in queued.text and 'hx-trigger="every 1s"' in queued.text

    bulk_operation_run(operation_id=operation.pk)  # what the worker does
    done = client.get(f"/exceptions/bulk/{operation.pk}/", HTTP_HX_REQUEST="true")
    assert "Finished" in done.text
    assert "<strong>1</strong> done, <strong>1</strong> refused" in done.text
    assert (
        f"Exception #{scene.amendment.pk}</a>: Exception {scene.amendment.pk} holds work for approval"
        in done.text
    )
    assert "hx-trigger" not in done.text  # polling stops when done
    assert "<html" not in done.text  # the partial only
    scene.hold.refresh_from_db()
    assert scene.hold.status == ExceptionStatus.RESOLVED


def test_everything_this_filter_matches_hands_the_queues_filter_to_the_service(scene):
    client = signed_in(scene.users["operator"])
    client.post(
        "/exceptions/bulk/?tab=mine&severity=high",
        {"action": "assign_team", "scope": "filter", "team": scene.master_data.pk},
    )
    operation = BulkOperation.objects.get()
    assert operation.selection == {
        "filter": {
            "status": ["open", "in_progress"],
            "severity": ["high"],
            "snoozed": "false",
            "assignee": "operator",
        }
    }
    assert operation.exception_ids == [scene.rate.pk]
    assert operation.params == {"team_id": scene.master_data.pk}


def test_a_searched_queue_is_taken_by_the_ids_it_matched(scene):
    client = signed_in(scene.users["operator"])
    client.post("/exceptions/bulk/?q=P-1042", {"action": "assign_me", "scope": "filter"})
    operation = BulkOperation.objects.get()
    assert operation.selection == {
        "ids": sorted([scene.rate.pk, scene.hold.pk, scene.drifts[0].pk])
    }
    assert operation.params == {"assignee_id": scene.users["operator"].pk}


def test_a_bulk_action_without_what_it_needs_starts_nothing_and_says_why(scene):
    client = signed_in(scene.users["operator"])
    response = client.post("/exceptions/bulk/?tab=all", {"action": "dismiss", "scope": "selected"})
    assert response.status_code == 400
    assert "Nothing was started" in response.text
    assert "Say why they are dismissed." in response.text
    assert "Tick at least one row" in response.text
    assert not BulkOperation.objects.exists()
    # The queue the person was on is shown again, with its filters.
    assert response.context["tab"] == "all"


def test_a_viewer_cannot_start_a_bulk_action(scene):
    response = signed_in(scene.users["viewer"]).post(
        "/exceptions/bulk/", {"action": "assign_me", "scope": "selected", "ids": [scene.rate.pk]}
    )
    assert response.status_code == 403
    assert not BulkOperation.objects.exists()


# One exception


@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_an_exception_with_its_context_money_and_held_work(role, scene):
    response = signed_in(scene.users[role]).get(f"/exceptions/{scene.rate.pk}/")
    assert response.status_code == 200
    text = response.text
    assert "No Architect rate on rate card RC-US-STD" in text
    assert "18,400.00 USD" in text
    assert "C-1001 Acme Corporation" in text and "Finance operations" in text
    assert "High-severity exceptions resolved" in text  # its breach
    assert f"/transactions/{scene.rate_tx.pk}/" in text
    assert "Open the fix: Add the Architect rate to rate card RC-US-STD" in text
    # Its details in words, not the engine's keys.
    assert "<dt>Rate card</dt><dd>RC-US-STD</dd>" in text and "<dt>rate_card</dt>" not in text
    buttons = ("Assign to me", ">Resolve</button>", ">Dismiss</button>", ">Snooze</button>")
    if role == "viewer":
        assert not any(b in text for b in buttons)
        assert "Add comment" not in text
        assert "Your role can look at exceptions but not act on them." in text
    else:
        assert all(b in text for b in buttons[1:])
        assert "Add comment" in text


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("take", {}),
        ("assign", {"assign-team": 1}),
        ("comment", {"comment-body": "Hello"}),
        ("snooze", {"snooze-until": "2099-01-01T09:00"}),
        ("wake", {}),
        ("resolve", {"resolve-resolution": "Fixed"}),
        ("dismiss", {"dismiss-reason": "Duplicate"}),
        ("reopen", {"reopen-reason": "Again"}),
        ("approve", {}),
        ("reject", {"reject-reason": "No"}),
    ],
)
def test_a_viewer_gets_403_on_every_action(action, data, scene):
    before = AuditEvent.objects.count()
    response = signed_in(scene.users["viewer"]).post(f"/exceptions/{scene.rate.pk}/{action}/", data)
    assert response.status_code == 403
    assert AuditEvent.objects.count() == before


def test_resolving_re_runs_the_transaction_it_holds(scene):
    client = signed_in(scene.users["operator"])
    response = client.post(
        f"/exceptions/{scene.rate.pk}/resolve/", {"resolve-resolution": "Architect rate added"}
    )
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert "Resolved. 1 held transaction(s) sent to run again." in page.text
    scene.rate.refresh_from_db()
    scene.rate_tx.refresh_from_db()
    assert scene.rate.status == ExceptionStatus.RESOLVED
    assert scene.rate.resolution == "Architect rate added"
    assert scene.rate_tx.state == TransactionState.RECEIVED
    assert "exception.resolve" in page.text  # the history, from the audit log
    assert "Reopen" in page.text and "Open the fix" not in page.text


def test_assign_comment_snooze_wake_dismiss_and_reopen_go_through_the_services(scene):
    client = signed_in(scene.users["operator"])
    url = f"/exceptions/{scene.hold.pk}"
    client.post(f"{url}/take/")
    scene.hold.refresh_from_db()
    assert scene.hold.assignee == scene.users["operator"]
    assert scene.hold.status == ExceptionStatus.IN_PROGRESS
    client.post(f"{url}/assign/", {"assign-team": scene.master_data.pk, "assign-reason": "theirs"})
    scene.hold.refresh_from_db()
    assert scene.hold.team == scene.master_data and scene.hold.assignee is None
    client.post(f"{url}/comment/", {"comment-body": "Asked the PM to lift the hold"})
    assert (
        ExceptionComment.objects.get(exception=scene.hold).body == "Asked the PM to lift the hold"
    )
    client.post(
        f"{url}/snooze/", {"snooze-until": "2099-01-01T09:00", "snooze-reason": "after the audit"}
    )
    scene.hold.refresh_from_db()
    assert scene.hold.is_snoozed
    client.post(f"{url}/wake/")
    scene.hold.refresh_from_db()
    assert not scene.hold.is_snoozed
    client.post(f"{url}/dismiss/", {"dismiss-reason": "Duplicate of P-1042"})
    scene.hold.refresh_from_db()
    assert scene.hold.status == ExceptionStatus.DISMISSED
    client.post(f"{url}/reopen/", {"reopen-reason": "Not a duplicate"})
    scene.hold.refresh_from_db()
    assert scene.hold.status == ExceptionStatus.OPEN
    actions = list(
        AuditEvent.objects.filter(
            object_id=str(scene.hold.pk), object_type="controltower.businessexception"
        )
        .order_by("at", "id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "exception.assign",
        "exception.assign",
        "exception.comment",
        "exception.snooze",
        "exception.wake",
        "exception.dismiss",
        "exception.reopen",
    ]


def test_a_refusal_is_shown_on_the_page_with_its_status_code(scene):
    client = signed_in(scene.users["operator"])
    response = client.post(
        f"/exceptions/{scene.amendment.pk}/resolve/", {"resolve-resolution": "Just resolve it"}
    )
    assert response.status_code == 409
    assert "holds work for approval; an approver approves or rejects it." in response.text
    missing = client.post(f"/exceptions/{scene.hold.pk}/dismiss/", {"dismiss-reason": ""})
    assert missing.status_code == 400
    assert "Not dismissed." in missing.text


def test_the_preparer_sees_four_eyes_and_is_refused_if_they_approve_anyway(scene):
    scene.replay.prepared_by = scene.users["approver"]
    scene.replay.save()
    preparer = signed_in(scene.users["approver"])
    page = preparer.get(f"/exceptions/{scene.replay.pk}/")
    assert "You prepared this;</strong> a second approver must approve it." in page.text
    assert ">Approve</button>" not in page.text
    assert "data.hours" in page.text  # the edited field, before and after
    refused = preparer.post(f"/exceptions/{scene.replay.pk}/approve/", {})
    assert refused.status_code == 403
    assert "a second person with the approver role must approve it" in refused.text
    second = signed_in(scene.users[SECOND_APPROVER])
    assert ">Approve</button>" in second.get(f"/exceptions/{scene.replay.pk}/").text
    second.post(f"/exceptions/{scene.replay.pk}/approve/", {"approve-reason": "Timesheet checked"})
    scene.replay.refresh_from_db()
    assert scene.replay.status == ExceptionStatus.RESOLVED


def test_the_detail_page_runs_a_bounded_number_of_queries(scene, django_assert_max_num_queries):
    client = signed_in(scene.users["operator"])
    client.get(f"/exceptions/{scene.rate.pk}/")
    with django_assert_max_num_queries(40):
        response = client.get(f"/exceptions/{scene.rate.pk}/")
    assert response.status_code == 200


# Where the fix is


def _waiting(waiting_on: str, **fields) -> BusinessException:
    return BusinessExceptionFactory.build(waiting_on=waiting_on, **fields)


def test_the_fix_of_a_missing_rate_card_line_is_made_on_the_exception_page_by_finance(scene):
    fix = exception_fix_link(scene.rate)
    assert fix.label == "Add the Architect rate to rate card RC-US-STD"
    assert (fix.url, fix.hint) == (
        "#fix",
        "Made on this page, below, by a finance role (approver or admin).",
    )


def test_the_fix_of_a_missing_rate_card_is_the_add_page_prefilled(scene):
    fix = exception_fix_link(_waiting("rate_card:RC-ZZ"))
    assert fix.url == "/admin/canonical/ratecard/add/?code=RC-ZZ"


def test_the_fix_of_an_unknown_legal_entity_adds_it_with_its_code(scene):
    fix = exception_fix_link(scene.entity)
    assert (fix.label, fix.url) == (
        "Add legal entity XX01",
        "/admin/canonical/legalentity/add/?code=XX01",
    )
    LegalEntity.objects.create(code="XX01", name="X", country="FR", currency="EUR", active=False)
    fix = exception_fix_link(scene.entity)
    assert fix.label == "Activate legal entity XX01"
    assert "/admin/canonical/legalentity/" in fix.url and fix.url.endswith("/change/")


def test_the_fix_of_an_assignment_by_someone_who_left_is_re_staffing_it(scene):
    fix = exception_fix_link(
        _waiting("resource:E-0004", exception_type=ExceptionType.RESOURCE_UNAVAILABLE)
    )
    assert fix.label == "Open resource E-0004 (inactive in the HRIS)"
    assert fix.hint.startswith("Re-staff the work in the PSA and dismiss this")


def test_the_fix_of_an_assignment_outside_its_project_is_the_projects_dates(scene):
    fix = exception_fix_link(_waiting("project_dates:P-1042:A-7"))
    assert fix.label == "Open P-1042 (its dates and its contract's end)"
    assert fix.url.startswith("/records/project/")
    assert fix.hint.startswith("Correct the assignment's dates in the PSA")


def test_the_fix_of_an_unlinked_harvest_user_is_finding_the_resource(scene):
    unlinked = _waiting("resource:HARVEST-123", details={"system": "harvest", "external_id": "123"})
    fix = exception_fix_link(unlinked)
    assert fix.label == "Link Harvest user 123 to a resource"
    assert fix.url == "/records/"
    assert "link Harvest user 123" in fix.hint


def test_the_fix_of_a_project_the_erp_lacks_is_its_record_page(scene):
    project = scene.prepared.project
    fix = exception_fix_link(_waiting(f"erp_project:{project.code}"))
    assert fix.label == f"Re-push project {project.code} to the ERP"
    assert fix.url == f"/records/project/{project.pk}/"


def test_the_fix_of_time_on_a_closed_project_is_reopening_it_or_moving_its_end(scene):
    project = scene.prepared.project
    fix = exception_fix_link(_waiting(f"project_active:{project.code}"))
    assert fix.label == f"Open {project.code} (not active on the day worked)"
    assert fix.url == f"/records/project/{project.pk}/"
    assert "move its end date past the time, in the PSA" in fix.hint


def test_a_contract_not_signed_yet_has_nothing_to_fix_here(scene):
    fix = exception_fix_link(_waiting("contract_signed:K-0404"))
    assert fix.url == ""
    assert "signed in the CLM" in fix.hint


def test_a_drift_opens_its_invoice_and_an_exception_without_a_cause_has_no_fix(scene):
    fix = exception_fix_link(scene.drifts[0])
    assert fix.label == "Open invoice INV-2990"
    assert fix.url.startswith("/records/invoice/")
    assert exception_fix_link(_waiting("", exception_type=ExceptionType.OTHER)) is None


def test_bulk_progress_is_readable_by_every_role(scene):
    operation = BulkOperation.objects.create(
        action="dismiss",
        requested_by=scene.users["operator"],
        total=2,
        done=2,
        status=BulkStatus.DONE,
        selection={"filter": {"status": ["open"], "exception_type": ["billing_hold"]}},
        params={"reason": "Duplicates"},
    )
    page = signed_in(scene.users["viewer"]).get(f"/exceptions/bulk/{operation.pk}/")
    assert page.status_code == 200
    assert "Dismiss: 2 exceptions" in page.text
    assert "/exceptions/?status=open&amp;exception_type=billing_hold" in page.text


def test_the_fix_of_a_value_the_mapping_cannot_give_is_the_mapping_editor(scene):
    fix = exception_fix_link(_waiting("mapping:DOCUSIGN:CONTRACT"))
    assert fix.label == "Edit DocuSign's contract mapping"
    assert fix.url == "/systems/docusign/mappings/contract/"


def test_the_fix_of_refused_credentials_is_the_systems_connection_page(scene):
    fix = exception_fix_link(_waiting("system_auth:ERP"))
    assert (fix.label, fix.url) == ("Fix ERP's credentials", "/systems/erp/connection/")


def test_details_read_in_words_and_lists_as_text():
    from controltower.web.pages.exceptions import details_shown

    assert details_shown(
        {"erp_hours": "6.00", "tower_hours": "8.00", "missing_skills": ["sap fi", "sql"], "x_y": 1}
    ) == [
        ("Hours approved and billed in the tower", "8.00"),
        ("Hours in the ERP", "6.00"),
        ("Skills missing", "sap fi, sql"),
        ("X y", 1),
    ]


def test_a_contract_or_project_filter_finds_exceptions_holding_its_lineage_work(scene):
    from canonical.models import Contract

    # The rate exception holds a time entry of K-5001's lineage (its correlation id).
    Contract.objects.filter(number="K-5001").update(correlation_id=scene.rate_tx.correlation_id)
    viewer = signed_in(scene.users["viewer"])
    assert keys(viewer.get("/exceptions/?contract=K-5001")) == ["P-1042", "K-5001"]
    assert keys(viewer.get("/exceptions/?project=p-1042")) == ["P-1042"]
    api = viewer.get("/api/v1/exceptions/?contract=K-5001").json()
    assert {item["business_key"] for item in api["results"]} == {"P-1042", "K-5001"}
