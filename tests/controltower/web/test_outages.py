"""The tower's own outages: its database unreachable, its broker unreachable.

Every page, API call and probe answers 503 with ``Retry-After`` while the database does not
answer (JSON for the API, a styled page for a person), never an HTML 500; the inbound door's
503 makes senders send again. An event stored while the broker is down is answered 202 and
the sweep sends it once the broker is back.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import httpx
import pytest
from django.db import connection
from django.test import Client

from integrations.choices import TransactionState
from integrations.models import Transaction
from integrations.services.processing import transactions_sweep
from tests.support.inbound import customer_event, signed_post
from tests.support.outages import broker_unreachable, database_unreachable
from tests.support.worker import ROOT, wait_for, worker_environment

pytestmark = pytest.mark.django_db(transaction=True)

UNAVAILABLE = "The tower is unavailable"


@pytest.fixture
def browser(user_with_role) -> Client:
    """A signed-in person; the server does not raise into the test, as a real one would not."""
    client = Client(raise_request_exception=False)
    client.force_login(user_with_role("operator"))
    return client


@pytest.fixture
def api(user_with_role, api_client_for):
    return api_client_for(user_with_role("operator"))


def test_every_api_call_answers_503_json_with_retry_after_while_the_database_does_not_answer(
    api,
):
    with database_unreachable():
        responses = [
            api.get("/api/v1/transactions/"),
            api.get("/api/v1/exceptions/?status=open"),
            api.post("/api/v1/transactions/1/retry/", {"reason": "again"}, format="json"),
        ]

    for response in responses:
        assert response.status_code == 503, response.content
        assert response["Content-Type"] == "application/json"
        assert response["Retry-After"] == "30"
        assert response.json()["message"].startswith("The tower's database is not answering")
    assert api.get("/api/v1/transactions/").status_code == 200  # and back once it answers


def test_the_inbound_door_answers_503_so_that_the_sender_sends_again(demo, settings):
    settings.CT_UNAVAILABLE_RETRY_AFTER_SECONDS = 12
    event = customer_event("C-7001")

    with database_unreachable():
        refused = signed_post(Client(), "crm", event)

    assert refused.status_code == 503 and refused["Retry-After"] == "12"
    assert refused.json()["errors"] == {"(database)": ["unavailable"]}
    again = signed_post(Client(), "crm", event)
    assert again.status_code == 202 and again.json()["accepted"] == 1
    schema = Client().get("/api/schema/?format=json").json()
    assert "503" in schema["paths"]["/api/v1/inbound/{system_slug}/"]["post"]["responses"]


def test_pages_show_the_styled_unavailable_page_with_503_while_the_database_does_not_answer(
    browser,
):
    with database_unreachable():
        pages = [browser.get("/"), browser.get("/transactions/"), browser.get("/login/")]

    for page in pages:
        assert page.status_code == 503
        assert page["Retry-After"] == "30"
        assert page["Content-Type"].startswith("text/html")
        html = page.content.decode()
        assert UNAVAILABLE in html and "<style>" in html
        assert "Server Error" not in html
    assert browser.get("/").status_code == 200


def test_a_middleware_that_loses_the_database_answers_the_same_503(browser, settings):
    # RemoteUserMiddleware reads the signed-in user (a session and a user query) in the
    # middleware itself, before any view: the error reaches the handler500, not a view's.
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        "django.contrib.auth.middleware.RemoteUserMiddleware",
    ]

    with database_unreachable():
        page = browser.get("/", HTTP_REMOTE_USER="olivia", REMOTE_USER="olivia")
        call = browser.get("/api/v1/transactions/", REMOTE_USER="olivia")

    assert page.status_code == 503 and UNAVAILABLE in page.content.decode()
    assert call.status_code == 503 and call["Content-Type"] == "application/json"


def test_the_tower_served_by_its_asgi_server_answers_503_while_its_database_is_unreachable():
    env = worker_environment(connection.settings_dict)
    if connection.vendor == "sqlite":
        env["CT_SQLITE_PATH"] = "/nonexistent-folder/controltower.sqlite3"
    else:
        env["DATABASE_URL"] = env["DATABASE_URL"].replace(
            f":{connection.settings_dict.get('PORT') or 5432}/", ":1/"
        )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "controltower.asgi:application", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(url), timeout=30, what="the web server to listen")
        health = httpx.get(f"{url}/healthz")
        inbound = httpx.post(f"{url}/api/v1/inbound/crm/", content=b"{}")
        page = httpx.get(f"{url}/", cookies={"sessionid": "a" * 32})
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)

    assert health.status_code == 503 and health.headers["Retry-After"] == "30"
    assert inbound.status_code == 503 and inbound.headers["Retry-After"] == "30"
    assert inbound.json()["errors"] == {"(database)": ["unavailable"]}
    assert page.status_code == 503 and UNAVAILABLE in page.text


def _answers(url: str) -> bool:
    try:
        httpx.get(f"{url}/static/css/tower.css", timeout=1)
    except httpx.TransportError:
        return False
    return True


def test_an_event_stored_while_the_broker_is_down_is_answered_202_and_the_sweep_sends_it(
    demo, celery_worker
):
    with broker_unreachable():
        response = signed_post(Client(), "crm", customer_event("C-7002"))

    assert response.status_code == 202, response.content
    tx = Transaction.objects.get(pk=response.json()["transaction_ids"][0])
    assert tx.state == TransactionState.RECEIVED  # held by the tower; no worker heard of it
    assert tx.enqueued_at is None  # marked unsent: the next sweep need not wait out the grace

    summary = transactions_sweep()

    assert summary.enqueued == 1
    wait_for(
        lambda: Transaction.objects.get(pk=tx.pk).state == TransactionState.SUCCEEDED,
        timeout=60,
        what="the swept transaction to be processed",
        on_timeout=celery_worker.tail,
    )


@pytest.mark.urls("tests.support.crashing_urls")
def test_a_bug_answers_a_person_with_the_towers_500_page_and_a_client_with_the_api_shape(db):
    client = Client(raise_request_exception=False)
    page = client.get("/crash/")
    assert page.status_code == 500
    assert "<h1>Something went wrong</h1>" in page.text
    assert "tower.css" in page.text and "go back to the overview" in page.text
    api = client.get("/api/v1/crash/")
    assert api.status_code == 500
    assert api.json() == {
        "message": "The tower could not answer this request; the error is in its log.",
        "errors": {},
    }
