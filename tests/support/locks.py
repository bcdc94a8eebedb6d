"""What PostgreSQL says of the test database's sessions, for tests that race two of them."""

from __future__ import annotations

from django.db import connection


def sessions_waiting_for_a_lock() -> int:
    """How many sessions on the test database wait for a lock another one holds."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]
