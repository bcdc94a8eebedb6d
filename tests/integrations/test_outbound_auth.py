"""The tower authenticates to the systems it calls: an OAuth 2.0 token for the ERP (shared,
fetched again before and when it expires), an API key for the PSA; refused credentials
hold the work as one exception until an admin fixes them and the connection test works;
the encryption key of the stored secrets can be rotated."""

from __future__ import annotations

import io
import time

import httpx
import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from controltower.operations.models import AuditEvent
from controltower.operations.services.connections import connection_check, connection_set
from integrations.choices import ExceptionStatus, ExceptionType, TransactionState
from integrations.models import (
    AccessToken,
    ConnectedSystem,
    ExceptionRecord,
    OutboundAuth,
    Transaction,
)
from integrations.services.processing import transactions_process
from tests.support.inbound import contract_event, events_send

pytestmark = pytest.mark.django_db(transaction=True)


def calls(http: httpx.Client, system: str, *, method: str | None = None) -> list[dict]:
    params = {"limit": 1000, **({"method": method} if method else {})}
    return http.get(f"/{system}/_requests", params=params).json()["results"]


def token_requests(http: httpx.Client) -> list[dict]:
    return [c for c in calls(http, "erp", method="POST") if c["path"].endswith("/token")]


def erp(http: httpx.Client, record: str) -> list[dict]:
    return http.get(f"/erp/services/rest/record/v1/{record}").json()["items"]


def test_the_tower_calls_the_erp_with_a_token_and_the_psa_with_its_key(simulator):
    [tx_id] = events_send(contract_event("K-6101"), system="clm")
    assert Transaction.objects.get(pk=tx_id).state == TransactionState.SUCCEEDED
    assert not ExceptionRecord.objects.exists()
    assert all(call["status"] != 401 for call in calls(simulator, "erp") + calls(simulator, "psa"))
    assert len(token_requests(simulator)) == 1  # one token, shared by every call
    assert AccessToken.objects.filter(system__slug="erp").exists()
    assert [job["externalId"] for job in erp(simulator, "job")] == ["P-K-6101"]


def test_a_token_that_expires_between_two_contracts_is_fetched_again_without_a_failure(simulator):
    simulator.put("/erp/_faults", json={"token_ttl_seconds": 2})
    events_send(contract_event("K-6102"), system="clm")
    time.sleep(2.2)  # the token's own two seconds: the only wait of the test
    [tx_id] = events_send(contract_event("K-6103", customer="C-1002"), system="clm")
    tx = Transaction.objects.get(pk=tx_id)
    assert tx.state == TransactionState.SUCCEEDED and tx.attempts_count == 1
    assert len(token_requests(simulator)) == 2


def test_a_token_the_erp_no_longer_takes_is_replaced_and_the_call_made_again(simulator):
    events_send(contract_event("K-6104"), system="clm")
    # The ERP forgets every token it issued (a restart, a revocation); the tower's shared
    # one is still fresh by its own clock.
    simulator.post("/erp/_reset")
    [tx_id] = events_send(contract_event("K-6105", customer="C-1002"), system="clm")
    tx = Transaction.objects.get(pk=tx_id)
    assert tx.state == TransactionState.SUCCEEDED, tx.last_error
    statuses = [c["status"] for c in calls(simulator, "erp")]
    assert statuses.count(401) == 1  # refused once, then a new token and the same call


def test_refused_credentials_hold_the_work_until_an_admin_fixes_them_and_tests_the_connection(
    simulator, user_with_role
):
    admin = user_with_role("admin")
    psa = ConnectedSystem.objects.get(slug="psa")
    connection_set(
        system_id=psa.pk, actor=admin, kind="api_key", header_name="X-Api-Key", secret="wrong"
    )
    first, second = (
        events_send(contract_event(f"K-610{n}", customer="C-1003"), system="clm")[0] for n in (6, 7)
    )
    held = Transaction.objects.filter(pk__in=[first, second])
    assert set(held.values_list("state", flat=True)) == {TransactionState.BLOCKED}
    [exception] = ExceptionRecord.objects.filter(exception_type=ExceptionType.AUTHENTICATION_FAILED)
    assert exception.waiting_on == "system_auth:PSA" and "refused" in exception.message
    # Blocked, not retried: one refused call per transaction, no storm.
    assert [c["status"] for c in calls(simulator, "psa")].count(401) == 2

    assert not connection_check(system_id=psa.pk, actor=admin).ok
    connection_set(
        system_id=psa.pk,
        actor=admin,
        kind="api_key",
        header_name="X-Api-Key",
        secret="demo-psa-api-key",
        reason="the right key",
    )
    result = connection_check(system_id=psa.pk, actor=admin)
    assert result.ok and result.released == 1, result.message
    exception.refresh_from_db()
    assert exception.status == ExceptionStatus.RESOLVED
    transactions_process(ids=[first, second])
    assert set(held.values_list("state", flat=True)) == {TransactionState.SUCCEEDED}
    # The secret was changed, never written down.
    audit = AuditEvent.objects.filter(action="system.connection_set").last()
    assert audit.after["secret"] == "changed" and "demo-psa-api-key" not in str(audit.after)


def test_the_encryption_key_of_stored_secrets_rotates_without_losing_them(simulator, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    # The demo stored its secrets under the demo key; a firm's own key takes them over.
    secrets = dict(OutboundAuth.objects.values_list("pk", "secret"))
    AccessToken.objects.all().delete()
    settings.CT_ENCRYPTION_KEYS = [old]
    for pk, secret in secrets.items():
        OutboundAuth.objects.filter(pk=pk).update(secret=secret)
    stored = OutboundAuth.objects.filter(system__slug="psa").values_list("secret", flat=True)
    psa_id = ConnectedSystem.objects.get(slug="psa").pk

    def raw() -> str:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT secret FROM integrations_outboundauth WHERE system_id = %s", [psa_id]
            )
            return cursor.fetchone()[0]

    encrypted_with_old = raw()
    assert encrypted_with_old.startswith("fernet:") and "demo-psa-api-key" not in encrypted_with_old
    settings.CT_ENCRYPTION_KEYS = [new, old]
    call_command("secrets_reencrypt", stdout=io.StringIO())
    assert raw() != encrypted_with_old
    settings.CT_ENCRYPTION_KEYS = [new]  # the old key is gone
    assert list(stored) == ["demo-psa-api-key"]
    [tx_id] = events_send(contract_event("K-6108"), system="clm")
    assert Transaction.objects.get(pk=tx_id).state == TransactionState.SUCCEEDED, (
        Transaction.objects.get(pk=tx_id).last_error
    )
