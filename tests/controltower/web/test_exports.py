"""CSV exports either answer a whole file or an error: a query that fails does not leave the
client a 200 with a cut-off body that looks like a finished file."""

from __future__ import annotations

import csv
import io

import psycopg
import pytest
from django.db import connection
from django.test import Client

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="a lock timeout is PostgreSQL's"),
    pytest.mark.django_db(transaction=True),
]

EXPORTS = [
    ("/api/v1/audit-events/export/", "controltower_auditevent"),
    ("/transactions/?export=csv", "integrations_transaction"),
    ("/exceptions/?export=csv", "controltower_businessexception"),
]


@pytest.fixture
def admin_client(demo, user_with_role) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user_with_role("admin"))
    return client


@pytest.fixture
def table_locked():
    """Another session holds the table; the tower's queries give up after 200 ms, as they
    would on any database error met while the export runs its query."""
    other = psycopg.connect(**connection.get_connection_params())
    locked: list[str] = []

    def lock(table: str) -> None:
        other.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        locked.append(table)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")

    yield lock
    other.rollback()
    other.close()
    with connection.cursor() as cursor:
        cursor.execute("RESET lock_timeout")


@pytest.mark.parametrize(("url", "table"), EXPORTS)
def test_an_export_whose_query_fails_answers_an_error_not_a_cut_off_file(
    admin_client, table_locked, url, table
):
    table_locked(table)
    response = admin_client.get(url)
    # A lock the query waited out is another request's work: 409, try again (any other
    # database error is a 5xx); either way an answer of its own, never a 200 cut short.
    assert response.status_code == 409
    assert not response.streaming and "try again" in response.content.decode().lower()


@pytest.mark.parametrize(("url", "table"), EXPORTS)
def test_an_export_answers_a_whole_csv_file(admin_client, url, table):
    response = admin_client.get(url)
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows and all(len(row) == len(rows[0]) for row in rows)
