"""The shared list: it counts its rows only up to a limit, so that a page of a list with a
million rows costs what a page of ten thousand costs, and says so instead of a number."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from controltower.web.pages import lists
from tests.support.inbound import customer_event, events_send

pytestmark = pytest.mark.django_db


@pytest.fixture
def five(demo, user_with_role) -> Client:
    """Five transactions, and a viewer looking at them."""
    events_send(*(customer_event(f"C-71{n:02d}") for n in range(5)))
    client = Client()
    client.force_login(user_with_role("viewer"))
    return client


def test_a_list_under_the_count_limit_shows_its_exact_number_of_rows(five, monkeypatch):
    monkeypatch.setattr(lists, "COUNT_LIMIT", 5)
    page = five.get("/transactions/?per=25").content.decode()
    assert "Showing 1 to 5 of 5</span>" in page and "more than" not in page


def test_a_list_over_the_count_limit_counts_no_further_and_says_more_than(five, monkeypatch):
    monkeypatch.setattr(lists, "COUNT_LIMIT", 3)
    with CaptureQueriesContext(connection) as queries:
        first = five.get("/transactions/?per=25").content.decode()
    counts = [
        q["sql"] for q in queries if "COUNT(" in q["sql"] and "integrations_transaction" in q["sql"]
    ]
    assert counts and all("LIMIT 4" in sql for sql in counts), counts
    assert "Showing 1 to 5 of more than 3</span>" in first
    # Pages stop at the one that holds row COUNT_LIMIT: here the first, 25 rows a page.
    assert "Page 1 of" not in first
    # A filter that brings the list under the limit counts exactly again.
    assert "of 1</span>" in five.get("/transactions/?business_key=C-7103").content.decode()
