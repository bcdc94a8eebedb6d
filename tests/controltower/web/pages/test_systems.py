"""Systems and flows: health per system from recent traffic, queues and failure rates per
flow, and pause/resume for admins only."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from controltower.operations.models import AuditEvent
from integrations.choices import TransactionState
from integrations.models import ConnectedSystem, Flow, Transaction
from integrations.services.processing import transactions_process
from tests.factories.operations import FlowTransactionFactory
from tests.support.inbound import contract_event, customer_event, events_send, signed_post

pytestmark = pytest.mark.django_db

ROLES = ["viewer", "operator", "approver", "admin"]


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def traffic(demo) -> None:
    """Three customers from the CRM (one blocked) and a contract the ERP cannot take."""
    # Nothing listens on the discard port: calls to the ERP and the PSA fail fast.
    ConnectedSystem.objects.filter(slug="erp").update(base_url="http://127.0.0.1:9/erp")
    ConnectedSystem.objects.filter(slug="psa").update(base_url="http://127.0.0.1:9/psa")
    events_send(
        customer_event("C-7001"),
        customer_event("C-7002"),
        customer_event("C-7003", legal_entity="ZZ99"),
        system="crm",
    )
    events_send(contract_event("K-7100"), system="clm")


def health_of(page, slug: str):
    return next(row for row in page.context["systems"] if row["health"].system.slug == slug)


def flow_of(page, kind: str):
    return next(row for row in page.context["flows"] if row["health"].flow.kind == kind)


@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_systems_and_flows_and_only_an_admin_may_pause(
    role, traffic, user_with_role
):
    page = signed_in(user_with_role(role)).get("/systems/")
    assert page.status_code == 200
    assert "Contract lifecycle" in page.text and "Contract to project" in page.text
    may_pause = role == "admin"
    assert ("/systems/flows/contract_to_project/pause/" in page.text) is may_pause
    assert ("Only an admin can pause or resume a flow." in page.text) is not may_pause


@pytest.mark.parametrize("role", ["viewer", "operator", "approver"])
def test_pausing_is_refused_with_403_to_anyone_but_an_admin(role, demo, user_with_role):
    client = signed_in(user_with_role(role))
    assert client.post("/systems/flows/master_data_sync/pause/", {}).status_code == 403
    Flow.objects.filter(kind="master_data_sync").update(paused=True)
    assert client.post("/systems/flows/master_data_sync/resume/", {}).status_code == 403
    assert Flow.objects.get(kind="master_data_sync").paused is True
    assert not AuditEvent.objects.exists()


def test_an_admin_pauses_and_resumes_a_flow_with_an_optional_reason(
    demo, user_with_role, django_capture_on_commit_callbacks
):
    admin = user_with_role("admin")
    client = signed_in(admin)
    response = client.post(
        "/systems/flows/master_data_sync/pause/", {"reason": "CRM upgrade"}, follow=True
    )
    assert "Paused Master-data sync" in response.text
    assert Flow.objects.get(kind="master_data_sync").paused is True
    assert flow_of(response, "master_data_sync")["health"].flow.paused
    assert "/systems/flows/master_data_sync/resume/" in response.text

    ids = signed_post(Client(), "crm", customer_event("C-7201")).json()["transaction_ids"]
    with django_capture_on_commit_callbacks(execute=False) as sent:
        response = client.post("/systems/flows/master_data_sync/resume/", {}, follow=True)
    assert "Resumed Master-data sync" in response.text and len(sent) == 1
    transactions_process(ids=ids)
    assert Transaction.objects.get(pk=ids[0]).state == TransactionState.SUCCEEDED
    pause, resume = AuditEvent.objects.order_by("id")
    assert (pause.action, pause.reason, pause.actor) == ("flow.pause", "CRM upgrade", admin)
    assert (resume.action, resume.reason) == ("flow.resume", "")


def test_an_unknown_flow_is_not_found(demo, user_with_role):
    assert signed_in(user_with_role("admin")).post("/systems/flows/nope/pause/").status_code == 404


def test_inbound_error_rates_count_what_each_system_sent_in_the_hour_and_the_day(traffic, operator):
    FlowTransactionFactory(
        source_system=ConnectedSystem.objects.get(slug="crm"),
        state=TransactionState.DEAD,
        received_at=timezone.now() - dt.timedelta(hours=5),
    )
    FlowTransactionFactory(  # older than a day: in neither window
        source_system=ConnectedSystem.objects.get(slug="crm"),
        state=TransactionState.DEAD,
        received_at=timezone.now() - dt.timedelta(days=3),
    )
    page = signed_in(operator).get("/systems/")
    crm = health_of(page, "crm")
    assert crm["rate_1h"] == "1 of 3 (33 %)"  # the blocked customer
    assert crm["rate_24h"] == "2 of 4 (50 %)"
    assert crm["health"].last_success is not None and not crm["quiet"]
    clm = health_of(page, "clm")
    assert clm["health"].retrying == 1 and clm["rate_24h"] == "0 of 1 (0 %)"
    assert health_of(page, "salesforce")["rate_24h"] == "no traffic"
    assert crm["transactions_url"] == "/transactions/?source_system=crm"
    assert health_of(page, "erp")["transactions_url"] == "/transactions/?target_system=erp"


def test_calls_to_a_system_the_tower_writes_to_count_as_its_errors(traffic, operator):
    page = signed_in(operator).get("/systems/")
    erp = health_of(page, "erp")
    # The contract's one attempt called the ERP, and the ERP call is what failed.
    assert erp["rate_1h"] == "1 of 1 (100 %)"
    assert erp["health"].outbound
    psa = health_of(page, "psa")
    assert psa["rate_1h"] == "no traffic"  # never reached: the ERP failed first
    assert "High" in page.text


def test_a_system_without_success_for_a_day_shows_as_quiet(traffic, operator):
    with time_machine.travel(timezone.now() + dt.timedelta(hours=25)):
        page = signed_in(operator).get("/systems/")
    crm = health_of(page, "crm")
    assert crm["quiet"] and crm["rate_24h"] == "no traffic"
    assert crm["health"].last_sync is not None  # still shown as its last success


def test_each_flow_shows_its_queues_with_links_and_its_failure_rate_from_the_rollups(
    traffic, operator
):
    page = signed_in(operator).get("/systems/")
    master = flow_of(page, "master_data_sync")
    queues = {q["state"]: q["count"] for q in master["queues"]}
    assert queues == {"received": 0, "retry_scheduled": 0, "dead": 0, "blocked": 1}
    assert master["rate_1h"] == "1 of 3 (33 %)"  # two succeeded, one blocked
    contract = flow_of(page, "contract_to_project")
    assert {q["state"]: q["count"] for q in contract["queues"]}["retry_scheduled"] == 1
    assert contract["rate_24h"] == "1 of 1 (100 %)"
    assert 'href="/transactions/?flow=master_data_sync&amp;state=blocked"' in page.text
    assert flow_of(page, "reconciliation")["rate_1h"] == "no traffic"


def test_both_tables_export_as_csv(traffic, operator):
    client = signed_in(operator)
    systems = client.get("/systems/?export=systems")
    rows = list(
        csv.DictReader(io.StringIO(b"".join(systems.streaming_content).decode("utf-8-sig")))
    )
    crm = next(row for row in rows if row["System"] == "crm")
    assert crm["Failed in the last hour"] == "1 of 3 (33 %)" and crm["Enabled"] == "Yes"
    flows = client.get("/systems/?export=flows")
    rows = list(csv.DictReader(io.StringIO(b"".join(flows.streaming_content).decode("utf-8-sig"))))
    master = next(row for row in rows if row["Flow"] == "master_data_sync")
    assert master["Blocked"] == "1" and master["Paused"] == "No"


def test_the_page_takes_the_same_few_queries_however_much_traffic(
    traffic, operator, django_assert_max_num_queries
):
    client = signed_in(operator)
    client.get("/systems/")
    # 15: one of them reads which legal entities each ERP owns.
    with django_assert_max_num_queries(15):
        client.get("/systems/")
    FlowTransactionFactory.create_batch(40, source_system=ConnectedSystem.objects.get(slug="crm"))
    with django_assert_max_num_queries(15):
        client.get("/systems/")


def test_a_user_without_a_role_may_not_see_the_systems(demo, user_with_role):
    assert signed_in(user_with_role(None)).get("/systems/").status_code == 403


def test_events_a_mapping_ignores_are_counted_on_their_flow_with_a_link(demo, operator):
    from tests.integrations.adapters.support import raw

    body = raw("salesforce", "cdc_stage_changed_not_won.json")
    assert signed_post(Client(), "salesforce", body).json()["ignored"] == 1
    page = signed_in(operator).get("/systems/")
    assert flow_of(page, "contract_to_project")["health"].ignored_24h == 1
    assert "/transactions/?flow=contract_to_project&amp;state=ignored" in page.text


def test_each_erp_shows_the_legal_entities_it_owns(demo, user_with_role):
    from integrations.choices import SystemKind
    from integrations.services.routing import erp_route_set

    admin = signed_in(user_with_role("admin"))
    assert health_of(admin.get("/systems/"), "erp")["erp_owns"] == (
        "Owns every legal entity (the only ERP)"
    )
    ConnectedSystem.objects.create(
        slug="erp2", name="ERP Europe", kind=SystemKind.ERP, base_url="http://127.0.0.1:9/erp2"
    )
    erp_route_set(legal_entity_code="US01", system_slug="erp")
    erp_route_set(legal_entity_code="GB01", system_slug="erp2")
    erp_route_set(legal_entity_code="DE01", system_slug="erp2")
    page = admin.get("/systems/")
    assert health_of(page, "erp")["erp_owns"] == "Owns US01"
    assert health_of(page, "erp2")["erp_owns"] == "Owns DE01, GB01"
    assert "Owns DE01, GB01" in page.text and "/admin/integrations/erproute/" in page.text
    assert health_of(page, "crm")["erp_owns"] == ""
    viewer_page = signed_in(user_with_role("viewer")).get("/systems/").text
    assert "Owns DE01, GB01" in viewer_page and "/admin/integrations/erproute/" not in viewer_page
