"""Refused requests are kept bounded: a size cap on each body, and a retention by age and by
count per system, pruned by a periodic task."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from integrations.choices import TransactionState
from integrations.models import Transaction
from integrations.tasks import prune_rejected_transactions_task
from tests.support.inbound import customer_event, signed_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(demo) -> Client:
    return Client()


def refuse(client: Client, system: str = "crm", body: bytes = b"{not json") -> Transaction:
    response = signed_post(client, system, body)
    assert response.status_code == 400, response.content
    return Transaction.objects.get(pk=response.json()["transaction_id"])


def rejected_ids(system: str = "crm") -> list[int]:
    return sorted(
        Transaction.objects.filter(
            state=TransactionState.REJECTED, source_system__slug=system
        ).values_list("pk", flat=True)
    )


def test_a_refused_body_over_the_cap_keeps_its_first_bytes_its_size_and_that_it_was_cut(
    client, settings, user_with_role, api_client_for
):
    settings.CT_REJECTED_BODY_MAX_BYTES = 100
    kept = refuse(client, body=b"[" + b"x" * 4999)
    assert kept.raw_body.startswith("[" + "x" * 99)
    assert kept.raw_body_bytes == 5000 and kept.raw_body_truncated is True
    reader = api_client_for(user_with_role("viewer"))
    answer = reader.get(f"/api/v1/transactions/{kept.pk}/").json()
    assert answer["raw_body_bytes"] == 5000 and answer["raw_body_truncated"] is True


def test_a_refused_body_under_the_cap_is_kept_whole_and_not_marked_cut(client):
    kept = refuse(client, body=b"{not json")
    assert kept.raw_body == "{not json"
    assert kept.raw_body_bytes == 9 and kept.raw_body_truncated is False


def test_refused_requests_older_than_the_retention_are_pruned_and_newer_ones_kept(client, settings):
    settings.CT_REJECTED_RETENTION_DAYS = 30
    old, recent = refuse(client), refuse(client)
    Transaction.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=31))
    assert prune_rejected_transactions_task() == 1
    assert rejected_ids() == [recent.pk]


def test_each_system_keeps_only_its_newest_refused_requests_up_to_the_count(client, settings):
    settings.CT_REJECTED_RETENTION_COUNT = 2
    crm = [refuse(client, "crm").pk for _ in range(4)]
    erp = [refuse(client, "erp").pk]
    assert prune_rejected_transactions_task() == 2
    assert rejected_ids("crm") == crm[2:]
    assert rejected_ids("erp") == erp  # another system's refusals do not count against it


def test_pruning_leaves_accepted_events_alone_however_old(client, settings):
    settings.CT_REJECTED_RETENTION_DAYS = 1
    settings.CT_REJECTED_RETENTION_COUNT = 1
    for number in ("C-1", "C-2"):
        assert signed_post(client, "crm", customer_event(number)).status_code == 202
    Transaction.objects.update(received_at=timezone.now() - timedelta(days=90))
    assert prune_rejected_transactions_task() == 0
    assert Transaction.objects.count() == 2


def test_a_retention_of_zero_keeps_every_refused_request(client, settings):
    settings.CT_REJECTED_RETENTION_DAYS = 0
    settings.CT_REJECTED_RETENTION_COUNT = 0
    refuse(client), refuse(client)
    Transaction.objects.update(received_at=timezone.now() - timedelta(days=900))
    assert prune_rejected_transactions_task() == 0
    assert len(rejected_ids()) == 2


def test_beat_prunes_refused_requests_on_a_schedule():
    entry = django_settings.CELERY_BEAT_SCHEDULE["prune-rejected-transactions"]
    assert entry["task"] == prune_rejected_transactions_task.name
    assert entry["schedule"] == 900.0
