"""The inbound door's limits: requests per minute per system, answered 429 before anything is
parsed or stored."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from controltower.operations.demo import demo_load
from integrations.models import ConnectedSystem, Transaction
from integrations.signatures import sign
from tests.support.inbound import customer_event, inbound_post, signed_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(demo) -> Client:
    return Client()


def limit(slug: str, per_minute: int) -> None:
    ConnectedSystem.objects.filter(slug=slug).update(inbound_requests_per_minute=per_minute)


def test_a_system_over_its_limit_is_answered_429_with_retry_after_naming_it_and_its_limit(client):
    limit("crm", 4)  # half a minute's allowance at once: two requests, then one every 30 s
    assert signed_post(client, "crm", customer_event("C-1")).status_code == 202
    assert signed_post(client, "crm", customer_event("C-2")).status_code == 202
    response = signed_post(client, "crm", customer_event("C-3"))
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 30
    body = response.json()
    assert "crm" in body["message"] and "4 requests per minute" in body["message"]
    assert body["errors"] == {"system": ["At most 4 requests per minute."]}
    assert Transaction.objects.count() == 2


def test_a_request_over_the_limit_is_neither_parsed_nor_kept(client):
    limit("crm", 2)
    assert signed_post(client, "crm", customer_event()).status_code == 202
    response = signed_post(client, "crm", b"{not json")
    assert response.status_code == 429
    assert Transaction.objects.count() == 1  # no rejected transaction for the refused body


def test_the_allowance_comes_back_as_the_minute_passes(client):
    limit("crm", 4)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for number in ("C-1", "C-2"):
            assert signed_post(client, "crm", customer_event(number)).status_code == 202
        assert signed_post(client, "crm", customer_event("C-3")).status_code == 429
        clock.shift(31)
        assert signed_post(client, "crm", customer_event("C-3")).status_code == 202


def test_each_system_has_its_own_allowance(client):
    limit("crm", 2)
    assert signed_post(client, "crm", customer_event()).status_code == 202
    assert signed_post(client, "crm", customer_event()).status_code == 429
    assert signed_post(client, "erp", customer_event()).status_code == 202


def test_a_system_with_no_limit_is_never_refused(client):
    limit("crm", 0)
    for number in range(12):
        assert signed_post(client, "crm", customer_event(f"C-{number}")).status_code == 202


def test_a_stranger_without_the_secret_cannot_spend_a_systems_allowance(client):
    limit("crm", 2)
    for _ in range(5):
        refused = inbound_post(client, "crm", customer_event(), HTTP_X_CT_SIGNATURE="t=1,v1=00")
        assert refused.status_code == 401
    assert signed_post(client, "crm", customer_event()).status_code == 202


def test_a_system_has_a_limit_unless_it_is_set_to_none():
    assert ConnectedSystem(slug="new").inbound_requests_per_minute == 600


def test_the_systems_api_and_page_show_each_systems_inbound_limit(
    demo, user_with_role, api_client_for
):
    limit("crm", 120)
    viewer = user_with_role("viewer")
    answer = api_client_for(viewer).get("/api/v1/systems/crm/")
    assert answer.json()["inbound_requests_per_minute"] == 120
    page = Client()
    page.force_login(viewer)
    html = page.get("/systems/").content.decode()
    assert "Sends at most 120 requests a minute" in html
    assert "/admin/integrations/connectedsystem/" not in html  # only an admin may change it


@pytest.mark.django_db(transaction=True)
def test_requests_sent_at_once_over_http_get_no_more_than_the_burst_and_no_500(live_server):
    demo_load()
    limit("crm", 12)  # six at once, then one every 10 s

    def post(number: int) -> int:
        raw = json.dumps(customer_event(f"C-{number}")).encode()
        return httpx.post(
            f"{live_server.url}/api/v1/inbound/crm/",
            content=raw,
            headers={
                "Content-Type": "application/json",
                "X-CT-Signature": sign("demo-crm-secret", raw),
            },
            timeout=60,
        ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(post, range(16)))
    assert sorted(set(codes)) == [202, 429]
    assert codes.count(202) in (6, 7)  # the burst, and at most one refilled while they ran
    assert Transaction.objects.count() == codes.count(202)
