"""The health probes (``/healthz``, ``/readyz``) and the overview's banner about the runtime."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from integrations.choices import FlowKind, ProcessRole
from integrations.services.runtime import heartbeat_record, heartbeat_starting
from tests.factories.operations import FlowTransactionFactory
from tests.support.outages import broker_unreachable, database_unreachable
from tests.support.worker import wait_for

WORKER_HINT_FOR_OPERATORS = "replaces a stuck worker by itself"
WORKER_HINT_FOR_READERS = "Tell integration operations"


def signed_in(client: Client, user_with_role, role: str = "viewer") -> Client:
    client.force_login(user_with_role(role))
    return client


def heartbeat(role: ProcessRole, name: str, *, ago: float) -> None:
    now = timezone.now()
    heartbeat_record(
        role=role,
        name=name,
        started_at=now - timedelta(hours=1),
        at=now - timedelta(seconds=ago),
    )


def banner(html: str) -> str:
    """The text of the runtime banner, or "" when there is none."""
    start = html.find("data-runtime-alert")
    return html[start : html.index("</section>", start)] if start >= 0 else ""


# --- The probes ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_readyz_is_200_while_a_worker_and_beat_run_and_503_naming_the_worker_once_it_stops(
    client, supervised_worker, supervised_beat, user_with_role
):
    def readiness():
        return client.get("/readyz")

    wait_for(
        lambda: readiness().status_code == 200,
        timeout=30,
        what="the tower to be ready",
        on_timeout=lambda: str(readiness().json()),
    )
    ready = readiness().json()
    assert ready["status"] == "ready" and ready["reasons"] == []
    assert ready["components"]["worker"]["state"] == "ok"
    assert ready["components"]["beat"]["state"] == "ok"
    assert not banner(signed_in(client, user_with_role).get("/").content.decode())

    supervised_worker.stop()

    wait_for(
        lambda: readiness().status_code == 503,
        timeout=30,
        what="readiness to see that no worker works",
        on_timeout=lambda: str(readiness().json()),
    )
    body = readiness().json()
    assert body["status"] == "not ready"
    assert [r for r in body["reasons"] if r.startswith("no worker heartbeat for")], body
    assert body["components"]["worker"]["state"] == "silent"
    # The web server itself is alive: liveness stays green.
    assert client.get("/healthz").status_code == 200
    assert "No worker has done any work since" in banner(client.get("/").content.decode())


@pytest.mark.django_db(transaction=True)
def test_the_probes_answer_503_json_naming_the_database_when_it_does_not_answer(client):
    with database_unreachable():
        live = client.get("/healthz")
        ready = client.get("/readyz")

    assert live.status_code == 503 and live["Content-Type"] == "application/json"
    assert live["Retry-After"] == ready["Retry-After"] == "30"
    assert live.json()["status"] == "down"
    assert live.json()["reasons"][0].startswith("the database does not answer")
    assert ready.status_code == 503 and ready["Content-Type"] == "application/json"
    assert ready.json()["reasons"][0].startswith("the database does not answer")
    assert client.get("/healthz").json() == {"status": "ok", "database": connection.vendor}


@pytest.mark.django_db
def test_readyz_names_an_unreachable_broker(client):
    heartbeat(ProcessRole.WORKER, "worker@a", ago=1)
    heartbeat(ProcessRole.BEAT, "beat@a", ago=1)

    with broker_unreachable():
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["reasons"][0].startswith("the broker cannot be reached")


@pytest.mark.django_db
def test_the_probes_are_never_cached_nor_need_a_sign_in(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]
    assert client.get("/readyz")["Content-Type"] == "application/json"


# --- The overview's banner ------------------------------------------------------------------


@pytest.mark.django_db
def test_the_overview_names_a_silent_worker_since_when_and_what_waits(client, user_with_role):
    heartbeat(ProcessRole.WORKER, "worker@a", ago=6 * 60 + 5)
    heartbeat(ProcessRole.BEAT, "beat@a", ago=2)
    FlowTransactionFactory(kind=FlowKind.MASTER_DATA_SYNC)
    FlowTransactionFactory(kind=FlowKind.MASTER_DATA_SYNC)
    since = timezone.localtime(timezone.now() - timedelta(seconds=6 * 60 + 5)).strftime("%H:%M")

    text = banner(signed_in(client, user_with_role).get("/").content.decode())

    assert f"No worker has done any work since {since} (6 min): 2 transactions wait." in text
    assert WORKER_HINT_FOR_READERS in text and WORKER_HINT_FOR_OPERATORS not in text
    assert "scheduler" not in text


@pytest.mark.django_db
def test_an_operator_is_told_what_to_check(client, user_with_role):
    heartbeat(ProcessRole.WORKER, "worker@a", ago=600)

    text = banner(signed_in(client, user_with_role, "operator").get("/").content.decode())

    assert WORKER_HINT_FOR_OPERATORS in text and "manage.py run_worker" in text


@pytest.mark.django_db
def test_the_banner_comes_with_the_live_figures_without_a_reload(client, user_with_role):
    signed_in(client, user_with_role)
    heartbeat(ProcessRole.WORKER, "worker@a", ago=600)

    partial = client.get("/", {"range": "24h"}, HTTP_HX_REQUEST="true").content.decode()

    assert "No worker has done any work since" in banner(partial)


@pytest.mark.django_db
def test_the_overview_says_when_the_scheduler_is_silent(client, user_with_role):
    heartbeat(ProcessRole.WORKER, "worker@a", ago=1)
    heartbeat(ProcessRole.BEAT, "beat@a", ago=15 * 60)

    text = banner(signed_in(client, user_with_role).get("/").content.decode())

    assert "The scheduler has been silent since" in text and "(15 min)" in text
    assert "No worker" not in text


@pytest.mark.django_db
def test_the_overview_says_when_the_broker_cannot_be_reached(client, user_with_role):
    heartbeat(ProcessRole.WORKER, "worker@a", ago=1)
    heartbeat(ProcessRole.BEAT, "beat@a", ago=1)
    signed_in(client, user_with_role)

    with broker_unreachable():
        text = banner(client.get("/").content.decode())

    assert "The message broker cannot be reached" in text


@pytest.mark.django_db
@pytest.mark.parametrize(
    "scene",
    ["fresh", "worker starting", "nothing heard of yet"],
)
def test_no_banner_while_all_is_well(client, user_with_role, scene):
    if scene == "fresh":
        heartbeat(ProcessRole.WORKER, "worker@a", ago=2)
        heartbeat(ProcessRole.BEAT, "beat@a", ago=2)
    elif scene == "worker starting":
        heartbeat(ProcessRole.WORKER, "worker@a", ago=3600)
        heartbeat_starting(role=ProcessRole.WORKER, name="worker@a")
        heartbeat(ProcessRole.BEAT, "beat@a", ago=2)

    html = signed_in(client, user_with_role).get("/").content.decode()

    assert not banner(html)
    assert "Work is not being done" not in html
