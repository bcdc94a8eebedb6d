"""The Measures page: for every role that reads transactions, in the main navigation, each
measure with its definition and value, the CSV of each, names masked as everywhere, and a
query count that does not grow with history."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from html import unescape

import pytest
import time_machine

from canonical.choices import InvoiceStatus, TimeEntryStatus
from canonical.models import Invoice
from integrations.choices import FlowKind, RollupSpan
from integrations.flows.catalog import flows_ensure
from integrations.models import Flow, FlowRollup
from tests.factories.canonical import (
    AssignmentFactory,
    ContractFactory,
    InvoiceFactory,
    ResourceFactory,
    TimeEntryFactory,
)
from tests.support.setups import project_set_up

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 4, 12, 0, tzinfo=UTC)  # a Wednesday


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def signed_in(client, user_with_role, role: str | None, username: str | None = None):
    client.force_login(user_with_role(role, username))
    return client


def text(response) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", response.content.decode())))


def measure_text(response, key: str) -> str:
    html = response.content.decode()
    start = html.index(f'data-measure="{key}"')
    return re.sub(
        r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html[start : html.index("</li>", start)]))
    )


def rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


@pytest.fixture
def seeded():
    """A project set up Monday 15:00 to Tuesday 11:30 (four and a half business hours), two
    invoices posted, a consultant with 30 billable hours this week, stops on one flow."""
    signed_at = datetime(2026, 11, 2, 15, tzinfo=UTC)
    project = project_set_up(
        code="P-8801",
        contract=ContractFactory(number="K-8801", signed_at=signed_at),
        signed_at=signed_at,
        erp_at=datetime(2026, 11, 3, 10, tzinfo=UTC),
        psa_at=datetime(2026, 11, 3, 11, 30, tzinfo=UTC),
    )
    for number, created, posted in (
        ("INV-8801", datetime(2026, 11, 2, 12, tzinfo=UTC), datetime(2026, 11, 4, 8, tzinfo=UTC)),
        ("INV-8802", datetime(2026, 11, 3, 8, tzinfo=UTC), datetime(2026, 11, 4, 10, tzinfo=UTC)),
    ):
        invoice = InvoiceFactory(
            number=number,
            project=project,
            status=InvoiceStatus.POSTED,
            posted_at=posted,
            amount=Decimal("2400.00"),
        )
        Invoice.objects.filter(pk=invoice.pk).update(created_at=created)
    consultant = ResourceFactory(employee_number="E-8801", name="Ada Lovelace", role="Consultant")
    for day, hours in ((2, "8"), (3, "8"), (4, "8"), (30, "6")):
        TimeEntryFactory(
            assignment=AssignmentFactory(resource=consultant, project=project),
            work_date=date(2026, 11 if day < 10 else 10, day),
            hours=hours,
            status=TimeEntryStatus.APPROVED,
            approved_at=NOW - timedelta(days=2),
        )
    flows_ensure(Flow)
    FlowRollup.objects.create(
        flow=Flow.objects.get(kind=FlowKind.CONTRACT_TO_PROJECT),
        span=RollupSpan.HOUR,
        bucket=NOW.replace(minute=0),
        dead=1,
        blocked=2,
    )
    return project


@pytest.mark.parametrize("role", ["viewer", "operator", "approver", "admin"])
def test_every_role_that_reads_transactions_opens_the_measures_from_the_main_navigation(
    client, user_with_role, role
):
    browser = signed_in(client, user_with_role, role)

    home = browser.get("/")
    nav = re.search(r'<nav class="mainnav".*?</nav>', home.content.decode(), re.S).group(0)
    assert re.findall(r">([^<]+)</a>", nav)[:2] == ["Overview", "Measures"]

    page = browser.get("/measures/")
    assert page.status_code == 200
    assert "Project setup cycle time" in text(page)


def test_someone_without_a_role_may_not_read_the_measures(client, user_with_role):
    response = signed_in(client, user_with_role, None).get("/measures/")

    assert response.status_code == 403


def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in(client):
    response = client.get("/measures/")

    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_with_nothing_recorded_each_measure_says_no_data_yet(client, user_with_role):
    page = signed_in(client, user_with_role, "viewer").get("/measures/")

    for key in ("project_setup", "staffing", "time_to_billing", "invoice_cycle", "recovery"):
        assert "No data yet" in measure_text(page, key), key
    assert "no projects set up in the last 7 days" in measure_text(page, "project_setup")


def test_the_measures_show_the_seeded_figures_with_their_definitions(
    client, user_with_role, seeded
):
    page = signed_in(client, user_with_role, "approver").get("/measures/?range=7d")

    setup = measure_text(page, "project_setup")
    assert "4.5 business h" in setup
    assert "median 4.5 business h, over 1 project, last 7 days" in setup
    assert "From the contract signed to its project ready in both the ERP and the PSA" in setup
    # 44 and 26 hours from prepared to posted.
    assert "35 h" in measure_text(page, "invoice_cycle")
    assert "30 h" in measure_text(page, "unbilled")
    # 30 billable hours over five working days of eight hours.
    assert "75.0 %" in measure_text(page, "utilization")
    assert "3" in measure_text(page, "failures")
    assert "Ada Lovelace" in text(page)  # the approver sees people's names
    assert 'href="?range=7d&amp;export=project_setup"' in page.content.decode()


def test_a_viewer_sees_names_masked_in_the_page_and_the_csv(client, user_with_role, seeded):
    browser = signed_in(client, user_with_role, "viewer")

    assert "Ada Lovelace" not in text(browser.get("/measures/"))
    exported = rows(browser.get("/measures/?range=7d&export=utilization"))
    assert exported[0] == [
        "Employee no.",
        "Name",
        "Team (role)",
        "Billable hours",
        "Capacity hours",
        "Utilization",
    ]
    assert exported[1][0] == "E-8801" and exported[1][1] != "Ada Lovelace"
    assert exported[1][2:] == ["Consultant", "30.00", "40.00", "0.7500"]
    # Billed amounts are pricing: masked for a viewer, the rest of the row as it is.
    invoices = rows(browser.get("/measures/?range=7d&export=invoice_cycle"))
    assert [row[0] for row in invoices[1:]] == ["INV-8801", "INV-8802"]
    assert [row[3] for row in invoices[1:]] == ["•••", "•••"] and invoices[1][6] == "44.00"


def test_each_measure_downloads_as_csv(client, user_with_role, seeded):
    browser = signed_in(client, user_with_role, "approver")

    response = browser.get("/measures/?range=7d&export=project_setup")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="measure-project-setup-7d.csv"' in response["Content-Disposition"]
    assert rows(response) == [
        ["Project", "Contract", "Contract signed", "Ready in ERP and PSA", "Business hours"],
        ["P-8801", "K-8801", "2026-11-02T15:00:00+00:00", "2026-11-03T11:30:00+00:00", "4.50"],
    ]
    assert rows(browser.get("/measures/?range=7d&export=invoice_cycle"))[1:] == [
        [
            "INV-8801",
            seeded.customer.number,
            seeded.customer.currency,
            "2400.00",
            "2026-11-02T12:00:00+00:00",
            "2026-11-04T08:00:00+00:00",
            "44.00",
        ],
        [
            "INV-8802",
            seeded.customer.number,
            seeded.customer.currency,
            "2400.00",
            "2026-11-03T08:00:00+00:00",
            "2026-11-04T10:00:00+00:00",
            "26.00",
        ],
    ]
    assert rows(browser.get("/measures/?range=7d&export=unbilled"))[1:] == [
        ["Under a week", "4", "30.00"],
        ["1 week to 30 days", "0", "0.00"],
        ["30 to 60 days", "0", "0.00"],
        ["Over 60 days", "0", "0.00"],
    ]
    failures = rows(browser.get("/measures/?range=24h&export=failures"))
    assert failures[0] == ["Period", "Flow", "Failures"]
    assert [row for row in failures[1:] if row[2] != "0"] == [["12:00", "Contract to project", "3"]]
    for key in ("staffing", "time_to_billing", "recovery"):
        assert browser.get(f"/measures/?export={key}").status_code == 200
    assert browser.get("/measures/?export=nonsense").status_code == 404


def test_the_page_reads_a_bounded_number_of_queries(
    client, user_with_role, seeded, django_assert_max_num_queries
):
    browser = signed_in(client, user_with_role, "viewer")
    for n in range(20):
        TimeEntryFactory(status=TimeEntryStatus.APPROVED, approved_at=NOW - timedelta(days=n))

    with django_assert_max_num_queries(20):
        response = browser.get("/measures/?range=30d")

    assert response.status_code == 200


def test_the_range_is_chosen_from_the_three_and_an_unknown_one_means_a_week(
    client, user_with_role, seeded
):
    browser = signed_in(client, user_with_role, "viewer")

    day = browser.get("/measures/?range=24h")
    assert '<a class="button small" href="?range=24h" aria-current="true">' in day.content.decode()
    data = json.loads(
        re.search(r'id="failures-data"[^>]*>(.*?)</script>', day.content.decode(), re.S)[1]
    )
    assert len(data["labels"]) == 24 and data["total"] == 3
    # Monday 15:00 to Tuesday 11:30 is more than a day ago: no project set up in the last 24 h.
    assert "No data yet" in measure_text(day, "project_setup")

    unknown = browser.get("/measures/?range=forever")
    assert "4.5 business h" in measure_text(unknown, "project_setup")
    assert "Last 7 days" in text(unknown)
