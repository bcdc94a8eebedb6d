"""The header's search: partial, case-insensitive, across every kind a role may read."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories.canonical import (
    ContractFactory,
    CustomerFactory,
    InvoiceFactory,
    ProjectFactory,
)
from tests.factories.operations import BusinessExceptionFactory, FlowTransactionFactory
from tests.support.pages import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def wayne():
    customer = CustomerFactory(number="C-2001", name="Wayne Enterprises")
    contract = ContractFactory(number="K-7001", customer=customer)
    project = ProjectFactory(code="P-7001", name="Wayne Cloud Migration", contract=contract)
    invoice = InvoiceFactory(number="INV-7001", project=project, customer=customer)
    tx = FlowTransactionFactory(business_key="K-7001")
    exc = BusinessExceptionFactory(business_key="TE-7001-00001", customer=customer)
    # Someone else's records, that must not be found.
    other = CustomerFactory(number="C-3001", name="Stark Industries")
    ContractFactory(number="K-8001", customer=other)
    return {"invoice": invoice, "project": project, "contract": contract, "tx": tx, "exc": exc}


def test_part_of_a_key_in_any_case_finds_every_kind_with_its_page(wayne, user_with_role):
    text = signed_in(user_with_role("admin")).get("/search/?q=7001").text
    for kind in ("contract", "project", "invoice", "transaction", "exception"):
        assert f'<h2 id="hits-{kind}">' in text
    assert '<h2 id="hits-customer">' not in text  # C-2001 is not 7001
    assert f'href="/records/contract/{wayne["contract"].pk}/">K-7001</a>' in text
    assert f'href="/records/project/{wayne["project"].pk}/">P-7001</a>' in text
    assert f'href="/records/invoice/{wayne["invoice"].pk}/">INV-7001</a>' in text
    assert f'href="/transactions/{wayne["tx"].pk}/">#{wayne["tx"].pk} K-7001</a>' in text
    assert f'href="/exceptions/{wayne["exc"].pk}/">TE-7001-00001</a>' in text
    assert "K-8001" not in text

    by_name = signed_in(user_with_role("admin")).get("/search/?q=wAyNe").text
    assert 'href="/transactions/?customer=C-2001">C-2001</a>' in by_name
    assert "Wayne Enterprises" in by_name and "Wayne Cloud Migration" in by_name
    assert "Stark" not in by_name


def test_a_transaction_is_found_by_its_whole_correlation_id(wayne, user_with_role):
    tx = wayne["tx"]
    client = signed_in(user_with_role("admin"))
    text = client.get(f"/search/?q={tx.correlation_id}").text
    assert f'href="/transactions/{tx.pk}/">#{tx.pk} K-7001</a>' in text
    # Part of one is not searched (it has no index that part of it could use).
    part = client.get(f"/search/?q={tx.correlation_id[3:12]}").text
    assert f'href="/transactions/{tx.pk}/">' not in part


def test_a_role_finds_only_what_it_may_read(wayne, user_with_role):
    nobody = signed_in(user_with_role(None)).get("/search/?q=7001")
    assert nobody.status_code == 200
    assert "Nothing matches “7001” that your role may read." in nobody.text


def test_a_search_costs_one_query_per_kind_and_says_when_it_is_too_short(wayne, user_with_role):
    client = signed_in(user_with_role("admin"))
    client.get("/search/?q=70")  # the session and permissions cached
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/search/?q=7001").status_code == 200
    searched = [q for q in queries.captured_queries if "LIKE" in q["sql"].upper()]
    # One per kind, and the matching customers' ids that exceptions are found by.
    assert len(searched) == 7
    assert "Type at least 2 characters." in client.get("/search/?q=7").text


def test_hostile_bytes_in_the_box_are_only_text(wayne, user_with_role):
    client = signed_in(user_with_role("admin"))
    for query in ("%", "_", "\\", "'; drop table x; --", "<script>alert(1)</script>", "a\x00b"):
        response = client.get("/search/", {"q": query})
        assert response.status_code == 200, query
        assert "<script>alert(1)</script>" not in response.text


def test_every_page_has_the_search_box_and_the_records_link(user_with_role):
    text = signed_in(user_with_role("viewer")).get("/").text
    assert 'action="/search/" role="search"' in text
    assert 'href="/records/"' in text
