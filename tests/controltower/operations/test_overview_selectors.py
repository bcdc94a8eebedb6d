"""The overview's figures against data counted by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from canonical.choices import InvoiceStatus, TimeEntryStatus
from controltower.operations.choices import SlaState
from controltower.operations.models import BusinessException, SlaBreach
from controltower.operations.selectors.overview import overview_figures
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
HOUR = NOW.replace(minute=0, second=0)  # the current hour bucket
MINUTE = NOW.replace(second=0)  # the current minute bucket
MASTER, C2P, BILLING = (
    FlowKind.MASTER_DATA_SYNC,
    FlowKind.CONTRACT_TO_PROJECT,
    FlowKind.TIME_TO_BILLING,
)


@pytest.fixture(autouse=True)
def flows() -> dict[str, Flow]:
    flows_ensure(Flow)
    return {flow.kind: flow for flow in Flow.objects.all()}


def rollup(flow: Flow, bucket: datetime, span: int = RollupSpan.HOUR, **counts) -> FlowRollup:
    return FlowRollup.objects.create(flow=flow, span=span, bucket=bucket, **counts)


def of_flow(figures: dict, kind: str) -> dict:
    return next(flow for flow in figures["flows"] if flow["kind"] == kind)


def money(*pairs: tuple[str, str]) -> list[dict]:
    return [{"currency": c, "amount": Decimal(a)} for c, a in pairs]


def test_a_stop_that_a_re_run_made_good_counts_once_as_its_success(flows):
    billing = flows[BILLING]
    # Three stops in the window; two of them re-ran and succeeded, one still stands.
    rollup(billing, HOUR - timedelta(hours=5), received=10, succeeded=7, blocked=2, dead=1)
    rollup(billing, HOUR, succeeded=2, recovered=2)
    # A re-run in the window of a stop from before it: its success, never a negative stop.
    rollup(flows[MASTER], HOUR - timedelta(hours=30), received=1, blocked=1)
    rollup(flows[MASTER], HOUR, succeeded=1, recovered=1)

    figures = overview_figures(now=NOW)

    day = of_flow(figures, BILLING)["last_24h"]
    assert (day["succeeded"], day["failed"], day["recovered"]) == (9, 3, 2)
    assert (day["finished"], day["success_rate"]) == (10, 9 / 10)
    master = of_flow(figures, MASTER)
    assert (master["last_24h"]["finished"], master["last_24h"]["success_rate"]) == (1, 1.0)
    assert (master["last_7d"]["finished"], master["last_7d"]["success_rate"]) == (1, 1.0)
    assert figures["totals"]["last_24h"]["success_rate"] == 10 / 11


def test_throughput_and_success_rates_come_from_the_rollups(flows):
    master = flows[MASTER]
    rollup(master, HOUR, received=7, succeeded=5, latency_us=5 * 2_000_000)
    rollup(master, HOUR - timedelta(hours=23), received=5, succeeded=5, dead=1, blocked=1)
    rollup(master, HOUR - timedelta(hours=24), succeeded=40, retried=3)  # in 7 days, not in 24 h
    rollup(master, HOUR - timedelta(hours=167), succeeded=50)
    rollup(master, HOUR - timedelta(hours=168), succeeded=1_000)  # older than 7 days
    rollup(master, HOUR + timedelta(hours=1), succeeded=1_000)  # not yet: a clock ahead
    rollup(master, MINUTE, RollupSpan.MINUTE, received=7, succeeded=5)
    rollup(master, MINUTE - timedelta(minutes=59), RollupSpan.MINUTE, succeeded=2)
    rollup(master, MINUTE - timedelta(minutes=60), RollupSpan.MINUTE, succeeded=9)
    rollup(flows[BILLING], HOUR, received=4, succeeded=2, blocked=2, latency_us=2 * 500_000)

    figures = overview_figures(now=NOW)

    day = of_flow(figures, MASTER)["last_24h"]
    assert day == {
        "received": 12,
        "succeeded": 10,
        "retried": 0,
        "dead": 1,
        "blocked": 1,
        "recovered": 0,
        "ignored": 0,
        "failed": 2,
        "finished": 12,
        "success_rate": 10 / 12,
        "average_latency_ms": 1000.0,
    }
    week = of_flow(figures, MASTER)["last_7d"]
    assert (week["succeeded"], week["retried"], week["success_rate"]) == (100, 3, 100 / 102)
    assert figures["totals"]["last_24h"]["succeeded"] == 12
    assert figures["totals"]["last_24h"]["success_rate"] == 12 / 16
    assert figures["totals"]["last_24h"]["average_latency_ms"] == 11_000 / 12  # ms
    assert of_flow(figures, C2P)["last_24h"]["success_rate"] is None

    hourly = figures["throughput"]["hourly"]
    assert len(hourly["buckets"]) == 24
    assert (hourly["buckets"][0], hourly["buckets"][-1]) == (HOUR - timedelta(hours=23), HOUR)
    assert hourly["series"][MASTER]["succeeded"] == [5, *[0] * 22, 5]
    assert hourly["series"][BILLING]["blocked"][-1] == 2
    minutely = figures["throughput"]["minutely"]
    assert minutely["buckets"][0] == MINUTE - timedelta(minutes=59)
    assert minutely["series"][MASTER]["succeeded"] == [2, *[0] * 58, 5]


def test_contract_to_project_cycle_time_is_signed_to_ready_in_business_hours(flows):
    # The flow's own processing time is not the measure: what people wait for is the project
    # ready in both the ERP and the PSA after the contract is signed.
    rollup(flows[C2P], HOUR, succeeded=1, latency_us=7_200_000_000)
    # Friday 16:00 to Monday 10:00: one business hour on each day (66 elapsed).
    project_set_up(
        signed_at=datetime(2026, 10, 30, 16, tzinfo=UTC),
        erp_at=datetime(2026, 11, 2, 9, 30, tzinfo=UTC),
        psa_at=datetime(2026, 11, 2, 10, tzinfo=UTC),
    )
    # Monday 09:00 to 11:00, in the ERP only so far: not ready, not counted.
    project_set_up(
        signed_at=datetime(2026, 11, 2, 9, tzinfo=UTC),
        erp_at=datetime(2026, 11, 2, 11, tzinfo=UTC),
        psa_at=None,
    )

    cycle = overview_figures(now=NOW)["cycle_times"]["contract_to_project"]

    assert cycle == {"average_business_hours": Decimal("2.00"), "count": 1, "window_days": 7}


def test_the_queues_count_live_transactions_by_state_and_flow():
    for kind, state, n in (
        (C2P, TransactionState.RECEIVED, 2),
        (C2P, TransactionState.SUCCEEDED, 5),
        (BILLING, TransactionState.RETRY_SCHEDULED, 1),
        (BILLING, TransactionState.DEAD, 3),
        (BILLING, TransactionState.BLOCKED, 1),
        (BILLING, TransactionState.AWAITING_APPROVAL, 1),
        (BILLING, TransactionState.CANCELLED, 4),
        (MASTER, TransactionState.DEAD, 1),
        (MASTER, TransactionState.REJECTED, 2),
    ):
        FlowTransactionFactory.create_batch(n, kind=kind, state=state)

    figures = overview_figures(now=NOW)

    assert figures["queues"] == {
        "received": 2,
        "processing": 0,
        "retry_scheduled": 1,
        "dead": 4,
        "blocked": 1,
        "awaiting_approval": 1,
    }
    assert of_flow(figures, BILLING)["queues"] == {
        "received": 0,
        "processing": 0,
        "retry_scheduled": 1,
        "dead": 3,
        "blocked": 1,
        "awaiting_approval": 1,
    }
    assert of_flow(figures, MASTER)["queues"]["dead"] == 1


def exception(*, age: timedelta, **fields) -> BusinessException:
    exc = BusinessExceptionFactory(**fields)
    BusinessException.objects.filter(pk=exc.pk).update(created_at=NOW - age)
    return exc


def test_open_exceptions_are_counted_by_type_team_and_age_with_their_money():
    billing, finance = TeamFactory(name="Billing ops"), TeamFactory(name="Finance")
    rate = ExceptionType.MISSING_RATE_CARD
    exception(age=timedelta(hours=2), team=billing, money_at_risk=100, currency="USD")
    exception(age=timedelta(days=2), team=billing, money_at_risk=50, currency="EUR")
    exception(
        age=timedelta(days=4),
        team=finance,
        exception_type=ExceptionType.CAP_EXCEEDED,
        money_at_risk=1_000,
        currency="USD",
        status=ExceptionStatus.IN_PROGRESS,
    )
    exception(age=timedelta(days=30), team=None, exception_type=ExceptionType.UNKNOWN_CUSTOMER)
    for status in (ExceptionStatus.RESOLVED, ExceptionStatus.DISMISSED):  # closed: not counted
        exception(age=timedelta(hours=1), team=billing, money_at_risk=9_999, status=status)

    figures = overview_figures(now=NOW)["exceptions"]

    assert figures["open"] == 4
    assert figures["money_at_risk"] == money(("EUR", "50"), ("USD", "1100"))
    by_type = {row["type"]: (row["count"], row["money_at_risk"]) for row in figures["by_type"]}
    assert by_type == {
        rate: (2, money(("EUR", "50"), ("USD", "100"))),
        ExceptionType.CAP_EXCEEDED: (1, money(("USD", "1000"))),
        ExceptionType.UNKNOWN_CUSTOMER: (1, []),
    }
    assert figures["by_type"][0]["label"] == "Missing rate card or rate"
    by_team = {row["team"]: (row["team_id"], row["count"]) for row in figures["by_team"]}
    assert by_team == {
        "Billing ops": (billing.pk, 2),
        "Finance": (finance.pk, 1),
        "No team": (None, 1),
    }
    assert [(row["age"], row["count"]) for row in figures["by_age"]] == [
        ("under_1d", 1),
        ("1d_3d", 1),
        ("3d_7d", 1),
        ("over_7d", 1),
    ]
    assert figures["by_age"][2]["money_at_risk"] == money(("USD", "1000"))


def test_sla_counts_open_items_at_risk_and_breached_and_the_days_breaches():
    policy = SlaPolicyFactory()

    def breach(state: str, *, breached: timedelta | None = None, met: bool = False) -> None:
        SlaBreach.objects.create(
            policy=policy,
            transaction=FlowTransactionFactory(),
            state=state,
            started_at=NOW - timedelta(days=3),
            due_at=NOW - timedelta(hours=1),
            breached_at=NOW - breached if breached else None,
            met_at=NOW if met else None,
        )

    breach(SlaState.AT_RISK)
    breach(SlaState.AT_RISK)
    breach(SlaState.BREACHED, breached=timedelta(hours=1))
    breach(SlaState.BREACHED, breached=timedelta(hours=2), met=True)  # finished late
    breach(SlaState.BREACHED, breached=timedelta(days=2))
    breach(SlaState.MET, met=True)

    assert overview_figures(now=NOW)["sla"] == {
        "at_risk": 2,
        "breached": 2,
        "breached_last_24h": 2,
    }


def test_billing_figures_count_open_invoices_and_recently_posted_ones():
    project = ProjectFactory()

    months = iter(range(1, 13))  # one invoice per project and period
    entries_approved_at = NOW - timedelta(days=10)

    def invoice(status: str, currency: str, lines: list[tuple[str, str]], **fields):
        inv = InvoiceFactory(
            project=project,
            status=status,
            currency=currency,
            period_start=datetime(2026, next(months), 1).date(),
            amount=sum(Decimal(h) * Decimal(r) for h, r in lines),
            **fields,
        )
        for hours, rate in lines:
            entry = TimeEntryFactory(
                project=project,
                status=TimeEntryStatus.APPROVED,
                hours=Decimal(hours),
                approved_at=entries_approved_at,
                invoice=inv,
            )
            InvoiceLineFactory(
                invoice=inv, time_entry=entry, quantity=Decimal(hours), rate=Decimal(rate)
            )
        return inv

    invoice(InvoiceStatus.AWAITING_APPROVAL, "USD", [("8", "100"), ("2", "150")])
    invoice(InvoiceStatus.AWAITING_APPROVAL, "EUR", [("4", "125")])
    invoice(InvoiceStatus.CANDIDATE, "USD", [("1.5", "100")])
    approved = invoice(InvoiceStatus.APPROVED, "USD", [("3", "200")])
    InvoiceLineFactory(invoice=approved, time_entry=None, quantity=1, rate=5_000)  # a milestone
    invoice(InvoiceStatus.REJECTED, "USD", [("7", "100")])
    invoice(InvoiceStatus.POSTED, "USD", [("5", "100"), ("5", "100")], posted_at=NOW)
    invoice(InvoiceStatus.PAID, "USD", [("1", "100")], posted_at=NOW - timedelta(days=5))
    invoice(InvoiceStatus.PAID, "USD", [("9", "100")], posted_at=NOW - timedelta(days=31))

    figures = overview_figures(now=NOW)

    assert figures["unbilled"] == {
        "entries": 5,
        "hours": Decimal("18.50"),
        "value": money(("EUR", "500"), ("USD", "1850")),
    }
    assert figures["invoices_awaiting_approval"] == {
        "count": 2,
        "amount": money(("EUR", "500"), ("USD", "1100")),
    }
    latency = figures["cycle_times"]["approved_time_to_invoice"]
    assert latency == {
        "average_seconds": (2 * 10 + 5) * 86_400 / 3,
        "count": 3,
        "window_days": 30,
    }


def test_the_overview_takes_a_fixed_number_of_queries(django_assert_num_queries, flows):
    for n in range(3):
        rollup(flows[MASTER], HOUR - timedelta(hours=n), succeeded=n)
        FlowTransactionFactory(kind=BILLING, state=TransactionState.DEAD)
        BusinessExceptionFactory(team=TeamFactory())
        project_set_up(signed_at=NOW - timedelta(days=1), erp_at=NOW, psa_at=NOW)
    # Eleven, and the project setup measure's three: calendar, sync states, projects.
    with django_assert_num_queries(14):
        overview_figures(now=NOW)
