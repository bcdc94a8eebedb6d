"""A database from before the engine took over the exception record migrates without a loss.

Each case builds a database at the last migrations before the move (controltower 0013,
integrations 0010) in a process of its own, writes an exception with its team, assignee,
snooze, due time, comment, SLA breach and blocked transaction as the old tables held
them, migrates to the end, and reads it back through today's models. The default
database of the test run is not touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

BEFORE = [
    ("integrations", "0010_sync_state_source_version"),
    ("controltower", "0013_bulk_operation_heartbeat"),
]

# Written with the old tables' own columns, as a database of that time holds them.
OLD_ROWS = """
import json, sys
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

now = timezone.now()
user = User.objects.create(username="olivia")
with connection.cursor() as c:
    c.execute("INSERT INTO controltower_team (name, email, chat_webhook_url, escalation_email, "
              "escalation_webhook_url, is_default) VALUES ('Billing', '', '', '', '', %s)", [False])
    c.execute("SELECT id FROM controltower_team")
    team = c.fetchone()[0]
    c.execute(
        "INSERT INTO controltower_businessexception (exception_type, severity, status, flow, "
        "message, details, waiting_on, fingerprint, business_key, money_at_risk, currency, "
        "occurrences, created_at, updated_at, resolution, team_id, assignee_id, snoozed_until, "
        "sla_due_at) VALUES ('missing_rate_card', 'high', 'in_progress', 'time_to_billing', "
        "'No ARCHITECT rate', '{}', 'rate_card:RC-1:ARCHITECT', 'missing_rate_card|x|y', 'P-1', "
        "1234.50, 'EUR', 3, %s, %s, '', %s, %s, %s, %s)",
        [now, now, team, user.pk, now, now],
    )
    c.execute("SELECT id FROM controltower_businessexception")
    exc = c.fetchone()[0]
    c.execute("INSERT INTO controltower_exceptioncomment (exception_id, author_id, body, created_at) "
              "VALUES (%s, %s, 'Asked finance', %s)", [exc, user.pk, now])
    c.execute("INSERT INTO controltower_slapolicy (name, kind, flow, event_type, exception_type, "
              "severity, target_minutes, business_hours, at_risk_share, escalate_after_minutes, "
              "active) VALUES ('Rates', 'exception', '', '', 'missing_rate_card', '', 60, %s, "
              "0.75, 240, %s)", [False, True])
    c.execute("SELECT id FROM controltower_slapolicy")
    policy = c.fetchone()[0]
    c.execute("INSERT INTO controltower_slabreach (state, started_at, due_at, exception_id, "
              "policy_id) VALUES ('breached', %s, %s, %s, %s)", [now, now, exc, policy])
    c.execute("SELECT id FROM integrations_flow WHERE kind = 'time_to_billing'")
    flow = c.fetchone()[0]
    c.execute("INSERT INTO integrations_transaction (flow_id, event_type, business_key, "
              "external_id, correlation_id, raw_body, state, outcome, attempts_count, "
              "retry_round_start, error_class, error_code, last_error, exception_id, received_at, "
              "updated_at) VALUES (%s, 'time_entry.approved', 'T-1', '', 'c', '', 'blocked', '', "
              "1, 0, 'data', 'missing_rate_card', 'No rate', %s, %s, %s)", [flow, exc, now, now])
json.dump({"exception": exc}, sys.stdout)
"""

NEW_ROWS = """
import json, os, sys
from controltower.operations.models import BusinessException
from integrations.models import ExceptionRecord, Transaction

pk = int(os.environ["OLD_EXCEPTION_ID"])
exc = BusinessException.objects.get(pk=pk)
json.dump({
    "records": ExceptionRecord.objects.count(),
    "money": str(exc.money_at_risk),
    "status": exc.status,
    "waiting_on": exc.waiting_on,
    "occurrences": exc.occurrences,
    "team": exc.team.name,
    "assignee": exc.assignee.username,
    "snoozed": exc.snoozed_until is not None,
    "due": exc.sla_due_at is not None,
    "comments": [c.body for c in exc.comments.all()],
    "breaches": exc.sla_breaches.count(),
    "blocked": list(Transaction.objects.filter(exception_id=pk).values_list("business_key", flat=True)),
    "next_id_is_new": ExceptionRecord.objects.create(
        exception_type="other", message="m", fingerprint="f").pk > pk,
}, sys.stdout)
"""


def _run(env: dict[str, str], *args: str, code: str | None = None) -> str:
    command = (
        [sys.executable, "manage.py", *args]
        if code is None
        else [
            sys.executable,
            "-c",
            (
                "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', "
                "'controltower.settings'); django.setup()\n" + code
            ),
        ]
    )
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _migrate_old_database(env: dict[str, str]) -> dict:
    for app, name in BEFORE:
        _run(env, "migrate", "--noinput", "-v0", app, name)
    old = json.loads(_run(env, code=OLD_ROWS))
    _run(env, "migrate", "--noinput", "-v0")
    return json.loads(_run({**env, "OLD_EXCEPTION_ID": str(old["exception"])}, code=NEW_ROWS))


EXPECTED = {
    "records": 1,
    "money": "1234.50",
    "status": "in_progress",
    "waiting_on": "rate_card:RC-1:ARCHITECT",
    "occurrences": 3,
    "team": "Billing",
    "assignee": "olivia",
    "snoozed": True,
    "due": True,
    "comments": ["Asked finance"],
    "breaches": 1,
    "blocked": ["T-1"],
    "next_id_is_new": True,
}


def _env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(CT_DEMO="1", **overrides)
    return env


@pytest.fixture
def old_database(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A new, empty database of the kind this run uses (SQLite, or PostgreSQL in the
    services pass), as the environment of a process that uses it."""
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres"):
        yield _env(CT_SQLITE_PATH=str(tmp_path / "before.sqlite3"), CT_VAR_DIR=str(tmp_path))
        return
    import psycopg

    base, _, _ = database_url.rpartition("/")
    name = f"ct_migrations_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _env(DATABASE_URL=f"{base}/{name}")
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_database_from_before_the_move_keeps_its_exceptions(old_database) -> None:
    assert _migrate_old_database(old_database) == EXPECTED
