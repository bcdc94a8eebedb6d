"""On PostgreSQL, the searches by part of a key are served by trigram indexes, the open queue
by money at risk and the reconciliation runs by partial indexes, and the planner prices a
random read as on SSD: each query's plan is the index, not a read of the whole table."""

from __future__ import annotations

import pytest
from django.db import connection

from controltower.operations.models import BusinessException
from controltower.operations.selectors.reconciliation import reconciliation_runs
from controltower.operations.selectors.search import _exceptions
from integrations.filtersets import TransactionFilterSet
from integrations.models import Transaction

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's indexes"),
]


def plan_of(queryset, *, bitmap_only: bool = False) -> str:
    """The plan PostgreSQL picks when reading a whole table costs what it would at a million
    rows (``bitmap_only``: nor may it walk a whole index in order, as it may on a few rows)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        if bitmap_only:
            cursor.execute("SET LOCAL enable_indexscan = off")
        sql, params = queryset.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_connections_price_a_random_read_as_on_ssd():
    with connection.cursor() as cursor:
        cursor.execute("SHOW random_page_cost")
        assert cursor.fetchone()[0] == "1.1"


def test_a_partial_business_key_is_found_through_its_trigram_index():
    found = TransactionFilterSet({"business_key": "as-1005"}, queryset=Transaction.objects.all()).qs
    assert "tx_business_key_trgm" in plan_of(found)


def test_exceptions_are_searched_by_part_of_a_key_or_message_through_their_trigram_indexes():
    plan = plan_of(_exceptions("K-50"), bitmap_only=True)
    assert "exc_business_key_trgm" in plan and "exc_message_trgm" in plan


def test_the_open_queue_by_money_at_risk_reads_its_partial_index():
    queue = BusinessException.objects.filter(status__in=["open", "in_progress"]).order_by(
        "-money_at_risk", "-pk"
    )[:25]
    assert "bex_open_money" in plan_of(queue)


def test_the_reconciliation_runs_are_read_through_their_partial_index():
    assert "tx_reconciliation_runs" in plan_of(reconciliation_runs().order_by("-pk")[:25])
