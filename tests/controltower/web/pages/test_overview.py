"""The overview page: its figures against seeded data, the lists behind them, the empty
state, the live partial, and a query count that does not grow with history."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html import unescape
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from canonical.choices import InvoiceStatus, TimeEntryStatus
from controltower.operations.choices import SlaState
from controltower.operations.models import BusinessException, SlaBreach
from controltower.operations.selectors.overview import throughput_by_day
from integrations.choices import (
    ExceptionStatus,
    ExceptionType,
    FlowKind,
    RollupSpan,
    TransactionState,
)
from integrations.flows.catalog import flows_ensure
from integrations.models import Flow, FlowRollup
from tests.factories.canonical import (
    InvoiceFactory,
    InvoiceLineFactory,
    ProjectFactory,
    TimeEntryFactory,
)
from tests.factories.operations import (
    BusinessExceptionFactory,
    FlowTransactionFactory,
    SlaPolicyFactory,
    TeamFactory,
)
from tests.support.setups import project_set_up

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 2, 12, 30, 15, tzinfo=UTC)
HOUR = NOW.replace(minute=0, second=0)
C2P, BILLING, MASTER = (
    FlowKind.CONTRACT_TO_PROJECT,
    FlowKind.TIME_TO_BILLING,
    FlowKind.MASTER_DATA_SYNC,
)
OPEN = ["open", "in_progress"]


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def flows() -> dict[str, Flow]:
    flows_ensure(Flow)
    return {flow.kind: flow for flow in Flow.objects.all()}


def rollup(flow: Flow, bucket: datetime, **counts) -> None:
    FlowRollup.objects.create(flow=flow, span=RollupSpan.HOUR, bucket=bucket, **counts)


def exception(*, age: timedelta, **fields) -> BusinessException:
    exc = BusinessExceptionFactory(**fields)
    BusinessException.objects.filter(pk=exc.pk).update(created_at=NOW - age)
    return exc


@pytest.fixture
def seeded(flows):
    """A day of work in three flows, queues, exceptions for two teams, SLA items, an invoice."""
    rollup(flows[C2P], HOUR, received=5, succeeded=3, dead=1, blocked=1, latency_us=3 * 90_000_000)
    rollup(flows[BILLING], HOUR - timedelta(hours=3), received=10, succeeded=9, blocked=1)
    rollup(flows[MASTER], HOUR - timedelta(days=2), received=20, succeeded=20)  # 7 days only
    for kind, state, n in (
        (BILLING, TransactionState.DEAD, 2),
        (C2P, TransactionState.RETRY_SCHEDULED, 1),
        (MASTER, TransactionState.RECEIVED, 3),
        (BILLING, TransactionState.BLOCKED, 1),
        (BILLING, TransactionState.AWAITING_APPROVAL, 1),
        (MASTER, TransactionState.SUCCEEDED, 4),
    ):
        FlowTransactionFactory.create_batch(n, kind=kind, state=state)
    billing, finance = TeamFactory(name="Billing ops"), TeamFactory(name="Finance")
    rate = ExceptionType.MISSING_RATE_CARD
    exception(age=timedelta(hours=2), team=billing, money_at_risk=100, currency="USD")
    exception(age=timedelta(days=2), team=billing, money_at_risk=200, currency="USD")
    exception(
        age=timedelta(days=4),
        team=finance,
        exception_type=ExceptionType.CAP_EXCEEDED,
        money_at_risk=1_000,
        currency="USD",
        status=ExceptionStatus.IN_PROGRESS,
    )
    exception(age=timedelta(days=9), team=None, exception_type=ExceptionType.UNKNOWN_CUSTOMER)
    exception(age=timedelta(hours=1), team=billing, money_at_risk=5, status="resolved")
    policy = SlaPolicyFactory()
    for state in (SlaState.BREACHED, SlaState.AT_RISK, SlaState.AT_RISK):
        SlaBreach.objects.create(
            policy=policy,
            transaction=FlowTransactionFactory(state=TransactionState.SUCCEEDED),
            state=state,
            started_at=NOW - timedelta(days=1),
            due_at=NOW - timedelta(hours=1),
            breached_at=NOW - timedelta(hours=1) if state == SlaState.BREACHED else None,
        )
    # Signed Friday 15:00, in the ERP Monday 09:30 and the PSA 10:00: three business hours
    # (two on Friday, one on Monday), 67 elapsed.
    project_set_up(
        signed_at=datetime(2026, 10, 30, 15, tzinfo=UTC),
        erp_at=datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
        psa_at=datetime(2026, 11, 2, 10, tzinfo=UTC),
    )
    project = ProjectFactory()
    invoice = InvoiceFactory(
        project=project,
        status=InvoiceStatus.AWAITING_APPROVAL,
        currency="USD",
        amount=Decimal("800"),
    )
    entry = TimeEntryFactory(
        project=project, status=TimeEntryStatus.APPROVED, hours=Decimal("8"), invoice=invoice
    )
    InvoiceLineFactory(invoice=invoice, time_entry=entry, quantity=Decimal("8"), rate=100)
    return {"billing": billing, "finance": finance, "rate": rate}


def tiles(html: str) -> dict[str, dict[str, str]]:
    """Each figure tile of the page: its value, note, attention word and link."""
    found = {}
    for match in re.finditer(
        r'<li class="tile[^"]*" data-figure="([^"]+)">(.*?)</li>', html, flags=re.S
    ):
        key, body = match.groups()

        def part(css: str, body: str = body) -> str:
            # up to the next part of the tile: a value may hold a line per currency
            hit = re.search(
                rf'<span class="{css}">(.*?)</span>\s*(?=<span class="tile-|</a>|</div>)',
                body,
                flags=re.S,
            )
            if not hit:
                return ""
            lines = re.findall(r'<span class="amount">(.*?)</span>', hit[1])
            return unescape(" · ".join(lines) if lines else hit[1].strip())

        link = re.search(r'<a href="([^"]*)"', body)
        found[key] = {
            "value": part("tile-value"),
            "note": part("tile-note"),
            "attention": part("tile-flag"),
            "href": unescape(link[1]) if link else "",
        }
    return found


def link(href: str) -> tuple[str, dict[str, list[str]]]:
    parts = urlsplit(href)
    return parts.path, parse_qs(parts.query, keep_blank_values=True)


def cell_link(html: str, row_attr: str, text: str) -> str:
    """The link of ``text`` in the table row marked with ``row_attr``."""
    row = re.search(rf"<tr {row_attr}>(.*?)</tr>", html, flags=re.S)
    assert row, row_attr
    hit = re.search(rf'<a href="([^"]+)">{re.escape(text)}</a>', row[1])
    assert hit, (row_attr, text, row[1])
    return unescape(hit[1])


def signed_in(client, user_with_role, role: str = "viewer"):
    client.force_login(user_with_role(role))
    return client


@pytest.mark.parametrize("role", ["viewer", "operator", "approver", "admin"])
def test_every_role_sees_the_seeded_figures(client, user_with_role, seeded, role):
    response = signed_in(client, user_with_role, role).get("/")

    assert response.status_code == 200
    html = response.content.decode()
    shown = {key: tile["value"] for key, tile in tiles(html).items()}
    assert shown == {
        "success_rate": "80.0 %",  # 12 succeeded of 15 finished in the last 24 hours
        "failed": "3",
        "retry_queue": "1",
        "dead": "2",
        "sla_breached": "1",
        "sla_at_risk": "2",
        "open_exceptions": "4",
        "money_at_risk": "1,300.00 USD",
        "contract_to_project": "3 business h",
        "time_to_invoice": "—",
        "unbilled": "8 h",
        "invoices_awaiting": "1",
    }
    notes = {key: tile["note"] for key, tile in tiles(html).items()}
    assert notes["success_rate"] == "12 of 15 finished"
    # Failed is what stands failed now (2 dead, 1 blocked), not every stop of the day.
    assert (
        notes["failed"]
        == "dead letters and blocked, now; 3 stops in the last 24 hours, re-run ones included"
    )
    assert notes["retry_queue"] == "3 new waiting to run"
    # Invoice amounts are pricing: finance and admins see them, viewers and support do not.
    sees = role in ("approver", "admin")
    billed = "800.00 USD" if sees else "•••"
    assert notes["unbilled"] == f"{billed} in 1 entry not yet invoiced"
    assert notes["invoices_awaiting"] == billed
    assert notes["sla_breached"] == "still open; 1 breached in the last 24 h"
    attention = {key: tile["attention"] for key, tile in tiles(html).items() if tile["attention"]}
    assert attention == {
        "failed": "Needs a look",
        "dead": "Needs a person",
        "sla_breached": "Late",
        "sla_at_risk": "Due soon",
        "invoices_awaiting": "To approve",
    }
    assert 'data-flow="time_to_billing"' in html and "Billing ops" in html
    assert "Nothing has happened yet" not in html


def test_the_flow_table_and_the_exception_breakdowns_show_the_seeded_counts(
    client, user_with_role, seeded
):
    html = signed_in(client, user_with_role).get("/").content.decode()

    c2p = re.search(r'<tr data-flow="contract_to_project">(.*?)</tr>', html, flags=re.S)[1]
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", c2p)]
    # received, success rate, failed, average time | waiting, retrying, dead, blocked,
    # for approval
    assert cells == ["5", "60.0 %", "2", "1 min 30 s", "0", "1", "0", "0", "0"]
    by_type = re.findall(r'<tr data-exception-type="(\w+)">.*?<a [^>]+>(\d+)</a>', html, re.S)
    assert by_type[0] == ("missing_rate_card", "2")  # the most first
    assert dict(by_type) == {"missing_rate_card": "2", "cap_exceeded": "1", "unknown_customer": "1"}
    ages = re.findall(
        r'<tr data-age="(\w+)">\s*<th scope="row">[^<]+</th>\s*<td[^>]*>(.*?)</td>', html
    )
    assert [(age, re.sub(r"<[^>]+>", "", n)) for age, n in ages] == [
        ("under_1d", "1"),
        ("1d_3d", "1"),
        ("3d_7d", "1"),
        ("over_7d", "1"),
    ]
    assert "300.00 USD" in html  # the rate card type's money, over two exceptions


def test_each_number_links_to_the_list_behind_it(client, user_with_role, seeded):
    html = signed_in(client, user_with_role).get("/").content.decode()
    shown = tiles(html)
    transactions = reverse("transactions:list")
    exceptions = reverse("exceptions:list")

    assert link(shown["failed"]["href"]) == (transactions, {"state": ["dead", "blocked"]})
    assert link(shown["dead"]["href"]) == (transactions, {"state": ["dead"]})
    assert link(shown["retry_queue"]["href"]) == (transactions, {"state": ["retry_scheduled"]})
    assert link(shown["sla_breached"]["href"]) == (
        reverse("slas:history"),
        {"state": ["breached"], "open": ["true"]},
    )
    assert link(shown["sla_at_risk"]["href"])[1] == {"state": ["at_risk"], "open": ["true"]}
    assert link(shown["open_exceptions"]["href"]) == (exceptions, {"status": OPEN, "snoozed": [""]})
    assert link(shown["money_at_risk"]["href"])[1]["sort"] == ["-money"]
    assert link(shown["invoices_awaiting"]["href"]) == (reverse("approvals:list"), {})
    assert link(shown["contract_to_project"]["href"]) == (
        reverse("measures:index"),
        {"range": ["7d"]},
    )

    dead_billing = cell_link(html, 'data-flow="time_to_billing"', "2")
    assert link(dead_billing) == (transactions, {"flow": ["time_to_billing"], "state": ["dead"]})
    team = cell_link(html, f'data-team="{seeded["billing"].pk}"', "2")
    assert link(team) == (
        exceptions,
        {"status": OPEN, "snoozed": [""], "team": [str(seeded["billing"].pk)]},
    )
    by_type = cell_link(html, 'data-exception-type="cap_exceeded"', "1")
    assert link(by_type)[1]["exception_type"] == ["cap_exceeded"]
    older = cell_link(html, 'data-age="3d_7d"', "1")
    minute = NOW.replace(second=0)
    assert link(older)[1] == {
        "status": OPEN,
        "snoozed": [""],
        "created_after": [(minute - timedelta(days=7)).isoformat()],
        "created_before": [(minute - timedelta(days=3)).isoformat()],
    }


def test_the_lists_behind_the_numbers_hold_as_many_rows(client, user_with_role, seeded):
    """Each list page shows as many rows as the overview counted."""
    html = signed_in(client, user_with_role).get("/").content.decode()
    shown = tiles(html)
    hrefs = [
        (key, shown[key]["href"], shown[key]["value"])
        for key in ("retry_queue", "dead", "sla_breached", "sla_at_risk", "open_exceptions")
    ]
    for row_attr, text in (
        (f'data-team="{seeded["billing"].pk}"', "2"),
        ('data-exception-type="cap_exceeded"', "1"),
        ('data-flow="time_to_billing"', "2"),  # its dead letters
    ):
        hrefs.append((row_attr, cell_link(html, row_attr, text), text))
    for what, href, count in hrefs:
        listed = client.get(href)
        assert listed.status_code == 200, what
        assert listed.context["table"].total == int(count), what


def test_a_page_that_does_not_exist_yet_gives_an_empty_link_and_lists_repeat_parameters():
    from controltower.web.templatetags.tower import url_or_empty

    assert url_or_empty("no-such-section:list", state="dead") == ""
    href = url_or_empty(
        "exceptions:list", params={"status": OPEN, "team": None}, snoozed="", sort="-money"
    )
    assert link(href) == (
        reverse("exceptions:list"),
        {"status": OPEN, "snoozed": [""], "sort": ["-money"]},
    )
    assert url_or_empty("exceptions:list") == reverse("exceptions:list")


def test_stops_made_good_by_a_re_run_are_not_failures_in_the_success_rate(
    client, user_with_role, flows
):
    # Four blocked on a missing rate card line; the line arrived and three of them re-ran.
    rollup(flows[BILLING], HOUR - timedelta(hours=2), received=10, succeeded=6, blocked=4)
    rollup(flows[BILLING], HOUR, succeeded=3, recovered=3)

    html = signed_in(client, user_with_role).get("/").content.decode()

    tile = tiles(html)["success_rate"]
    assert tile["value"] == "90.0 %"
    assert tile["note"] == "9 of 10 finished; 3 earlier stops re-ran and succeeded"


def test_the_week_counts_calendar_days_in_the_readers_time_zone(client, user_with_role, flows):
    new_york = ZoneInfo("America/New_York")
    # 02:00 UTC on 2 November is still 1 November in New York.
    rollup(flows[C2P], datetime(2026, 11, 2, 2, tzinfo=UTC), received=3, succeeded=3)
    rollup(flows[C2P], datetime(2026, 11, 2, 12, tzinfo=UTC), received=1, succeeded=1)
    rollup(flows[C2P], datetime(2026, 10, 27, 3, tzinfo=UTC), received=9, succeeded=9)  # 26 Oct

    week = throughput_by_day(now=NOW, tz=new_york)

    assert (
        week["days"][0].isoformat() == "2026-10-27" and week["days"][-1].isoformat() == "2026-11-02"
    )
    assert week["series"][C2P]["succeeded"] == [0, 0, 0, 0, 0, 3, 1]
    assert week["flows"][C2P]["succeeded"] == 4
    assert week["totals"]["success_rate"] == 1.0

    client.cookies["tz"] = "America%2FNew_York"  # as the page's script writes it
    html = signed_in(client, user_with_role).get("/?range=7d").content.decode()
    data = re.search(r'<script id="throughput-data" type="application/json">(.*?)</script>', html)
    assert '"Sun 01 Nov"' in data[1] and '"Mon 02 Nov (today)"' in data[1]
    assert tiles(html)["success_rate"]["note"] == "4 of 4 finished"
    assert 'aria-current="true">Last 7 days' in html


def test_the_throughput_chart_has_its_numbers_in_a_table_and_a_summary(
    client, user_with_role, seeded
):
    html = signed_in(client, user_with_role).get("/").content.decode()
    canvas = re.search(r'<canvas id="throughput-chart"[^>]*aria-label="([^"]+)"', html)
    assert "Transactions finished per hour, by flow: 15 in all" in unescape(canvas[1])
    assert "most in Time to billing (10)" in unescape(canvas[1])
    table = re.search(r'id="throughput-numbers">(.*?)</details>', html, flags=re.S)[1]
    assert len(re.findall(r'<tr><th scope="row">\d\d:00', table)) == 24
    assert '<th scope="row">12:00 (so far)</th>' in table  # this hour, UTC without a cookie


def test_a_fresh_install_says_what_to_do(client, user_with_role, demo, settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    html = signed_in(client, user_with_role).get("/").content.decode()

    assert "Nothing has happened yet" in html
    assert "/api/v1/inbound/crm/" in html
    assert "generate_traffic" in html
    assert 'data-live-mode="poll"' in html  # it updates by itself when the first event arrives
    assert "data-figure=" not in html


def test_the_live_partial_answers_204_until_the_figures_change(client, user_with_role, seeded):
    signed_in(client, user_with_role)
    page = client.get("/").content.decode()
    version = re.search(r'data-live-version="(\w+)"', page)[1]

    partial = client.get("/", {"range": "24h"}, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    assert partial.content.decode().lstrip().startswith('<div id="overview-live"')
    assert "<html" not in partial.content.decode()
    assert partial["Vary"] and "HX-Request" in partial["Vary"]

    unchanged = client.get("/", {"range": "24h", "v": version}, HTTP_HX_REQUEST="true")
    assert unchanged.status_code == 204

    FlowTransactionFactory(kind=BILLING, state=TransactionState.DEAD)
    changed = client.get("/", {"range": "24h", "v": version}, HTTP_HX_REQUEST="true")
    assert changed.status_code == 200
    assert tiles(changed.content.decode())["dead"]["value"] == "3"


def test_the_poll_interval_comes_from_the_settings(client, user_with_role, seeded, settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.CT_LIVE_POLL_SECONDS = 0.5
    html = signed_in(client, user_with_role).get("/").content.decode()
    assert 'data-live-poll="0.5"' in html
    assert "Updates every 0.5 s" in html


def test_someone_signed_out_is_sent_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def queries_for(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/").status_code == 200
    return len(captured)


@pytest.mark.parametrize("chosen", ["24h", "7d"])
def test_the_page_takes_a_bounded_number_of_queries_that_history_does_not_grow(
    client, user_with_role, seeded, flows, django_assert_max_num_queries, chosen
):
    signed_in(client, user_with_role)
    url = f"/?range={chosen}"
    # session, user, its groups (the menu), its permissions (the amounts only finance sees),
    # the overview's 11, the runtime's heartbeats (its banner), the breakers (the systems the
    # tower stopped calling), the project setup measure's 3 (calendar, sync states, projects);
    # the week adds flows and days
    with django_assert_max_num_queries(21 if chosen == "24h" else 23):
        client.get(url)
    with CaptureQueriesContext(connection) as before:
        client.get(url)

    for n in range(30):  # more history, more live work, more exceptions and teams
        rollup(flows[BILLING], HOUR - timedelta(hours=30 + n), received=n, succeeded=n)
        FlowTransactionFactory(kind=BILLING, state=TransactionState.SUCCEEDED)
        FlowTransactionFactory(kind=C2P, state=TransactionState.DEAD)
        exception(age=timedelta(hours=n), team=TeamFactory(), money_at_risk=n, currency="EUR")

    with CaptureQueriesContext(connection) as after:
        client.get(url)
    assert len(after) == len(before)


def test_figures_are_written_as_people_read_them():
    from controltower.web.templatetags.tower import duration, money, ms_duration, percent, thousands

    assert [
        duration(s) for s in (None, 0.08, 4.25, 45, 90, 3 * 3600 + 20 * 60, 2 * 86400 + 4 * 3600)
    ] == [
        "",
        "80 ms",
        "4.2 s",
        "45 s",
        "1 min 30 s",
        "3 h 20 min",
        "2 d 4 h",
    ]
    assert ms_duration(1500) == "1.5 s"
    assert [percent(v) for v in (None, 0, 0.8, 0.9996, 1)] == [
        "",
        "0.0 %",
        "80.0 %",
        "99.9 %",
        "100 %",
    ]
    assert thousands(12345) == "12,345" and thousands(Decimal("1234.50")) == "1,234.50"
    assert money(
        [{"currency": "EUR", "amount": Decimal("50")}, {"currency": "USD", "amount": 1100}]
    ) == ("50.00 EUR · 1,100.00 USD")
    assert money([]) == ""
    two = [{"currency": "EUR", "amount": 50}, {"currency": "USD", "amount": Decimal("1100")}]
    assert money(two, "lines") == (
        '<span class="amount">50.00 EUR</span><span class="amount">1,100.00 USD</span>'
    )


def test_the_failure_trend_per_flow_is_drawn_from_the_same_roll_ups(client, user_with_role, seeded):
    html = signed_in(client, user_with_role).get("/").content.decode()

    data = json.loads(re.search(r'id="failures-data"[^>]*>(.*?)</script>', html, re.S)[1])
    totals = {d["kind"]: d["total"] for d in data["datasets"] if d["total"]}
    # Contract to project: one dead and one blocked this hour; billing: one blocked at 09:00.
    assert totals == {C2P: 2, BILLING: 1}
    assert data["total"] == 3 and len(data["labels"]) == 24
    assert data["summary"].startswith("Failures per hour, by flow: 3 in all")
    assert 'href="/measures/?range=24h"' in html
