"""The dashboard case of ``make bench`` at a small volume: what it seeds, times and leaves."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Q

from bench.dashboard import run_dashboard_bench
from bench.dashboard_seed import (
    RECENT,
    DashboardOptions,
    seed_delete,
    seed_prepare,
    seed_recent,
    seed_settle,
)
from canonical.choices import InvoiceStatus
from canonical.models import Invoice, InvoiceLine, Project, TimeEntry
from controltower.operations.models import BusinessException, SlaBreach, SlaPolicy, Team
from controltower.operations.selectors.overview import overview_figures
from integrations.choices import LIVE_STATES, OPEN_STATUSES, AttemptOutcome, RollupSpan
from integrations.models import Attempt, FlowRollup, Transaction
from integrations.services.rollups import bucket_start

pytestmark = pytest.mark.django_db

SMALL = DashboardOptions(transactions=2_000, exceptions=200, baseline=500, runs=3)
SEEDED = (
    get_user_model(),
    Transaction,
    Attempt,
    BusinessException,
    SlaBreach,
    SlaPolicy,
    Team,
    Project,
    Invoice,
    InvoiceLine,
    TimeEntry,
    FlowRollup,
)


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in SEEDED}


def test_the_last_seven_days_hold_the_live_queues_and_the_rollups_match_a_recount(demo):
    seed = seed_prepare(SMALL, report=lambda line: None)
    seed_recent(seed, report=lambda line: None)
    seed_settle(seed, since=seed.now - RECENT - dt.timedelta(hours=1))

    figures = overview_figures(now=seed.now)

    # The window is the current hour and the 167 before it; outcomes count by attempt.
    week = bucket_start(seed.now, RollupSpan.HOUR) - dt.timedelta(hours=167)
    received = Transaction.objects.filter(received_at__gte=week, flow__isnull=False)
    attempts = Attempt.objects.filter(started_at__gte=week, transaction__flow__isnull=False)
    last_7d = figures["totals"]["last_7d"]
    assert last_7d["received"] == received.count() > 400
    for counter, outcome in (
        ("succeeded", AttemptOutcome.SUCCEEDED),
        ("retried", AttemptOutcome.RETRY),
        ("dead", AttemptOutcome.DEAD),
        ("blocked", AttemptOutcome.BLOCKED),
    ):
        assert last_7d[counter] == attempts.filter(outcome=outcome).count() > 0, counter
    for state in LIVE_STATES:
        assert figures["queues"][state] == Transaction.objects.filter(state=state).count()
    open_exceptions = BusinessException.objects.filter(status__in=OPEN_STATUSES)
    assert figures["exceptions"]["open"] == open_exceptions.count() > 0
    assert (
        figures["sla"]["at_risk"] + figures["sla"]["breached"]
        == SlaBreach.objects.filter(met_at__isnull=True).count()
    )
    awaiting = Invoice.objects.filter(
        status=InvoiceStatus.AWAITING_APPROVAL, pk__gte=seed.invoice_first
    )
    assert figures["invoices_awaiting_approval"]["count"] == awaiting.count() == 100
    assert figures["unbilled"]["entries"] == 200 * 10
    assert figures["cycle_times"]["approved_time_to_invoice"]["count"] == 200 * 10
    assert figures["cycle_times"]["contract_to_project"]["count"] > 0
    seed_delete(seed, report=lambda line: None)


def test_the_bench_times_every_page_and_deletes_what_it_seeded(demo):
    before = counts()
    lines: list[str] = []

    result = run_dashboard_bench(SMALL, report=lines.append)

    assert counts() == before
    timings = [*result.baseline, *result.overview, *result.small, *result.pages]
    assert all(len(timing.samples) == 3 for timing in timings)
    assert [t.name for t in result.overview] == ["overview_figures() at 2,000"]
    names = [timing.name for timing in result.pages]
    assert names == [timing.name for timing in result.small]  # each page at both sizes
    assert names[:7] == [
        "overview page",
        "exceptions: the open queue, by money at risk",
        "exceptions: every status, by money at risk",
        "transactions: part of a business key",
        "header search: part of a business key",
        "reconciliation page",
        "transactions: newest first",
    ]
    assert set(names[:7]) == result.dashboard and len(names) == 14
    by_name = {timing.name: timing for timing in result.pages}
    assert by_name["transactions: newest first"].rows >= 2_000
    assert by_name["transactions: one business key"].rows == 1
    # The searched key is of the last 7 days: found at both sizes, the same few rows.
    assert 1 <= by_name["transactions: part of a business key"].rows <= 20
    assert by_name["header search: part of a business key"].rows == (
        by_name["transactions: part of a business key"].rows
    )
    assert by_name["reconciliation page"].rows > 2_000 // 25  # a twentieth, less the refused
    assert by_name["exceptions: every status, by money at risk"].rows >= 200
    assert 0 < by_name["exceptions: a team's open queue"].rows < 200
    # Where each page's time goes: its SQL statements, timed as the page runs them.
    overview = by_name["overview page"]
    assert overview.statements > 5
    assert all(0 < sql < total for sql, total in zip(overview.sql, overview.samples, strict=True))
    summary = "\n".join(result.summary_lines())
    assert "* overview page" in summary and "p95 500" in summary and "p95 2k" in summary
    assert "where it goes" in summary and "SQL 2k" in summary
    data = json.loads(result.as_json())
    assert data["case"] == "dashboard" and data["transactions"] == 2_000
    assert set(data["pages"]) == set(names)
    assert data["pages"]["overview page"]["ratio_p95"] == round(result.page_ratio(0), 2)
    assert data["pages"]["overview page"]["statements"] == overview.statements
    assert data["targets_met"] == (not result.misses())
    assert any("Deleted the rows" in line for line in lines)


def test_keep_leaves_the_seeded_rows_for_a_look(demo):
    before = counts()
    result = run_dashboard_bench(
        DashboardOptions(transactions=1_000, exceptions=100, baseline=200, runs=1, keep=True),
        report=lambda line: None,
    )
    assert result.kept
    after = counts()
    assert after["Transaction"] == before["Transaction"] + 1_000
    assert after["BusinessException"] == before["BusinessException"] + 100
    assert Team.objects.filter(name__endswith=f"({result.run_id})").count() == 4
    assert not Transaction.objects.filter(Q(flow__isnull=True) & ~Q(state="rejected")).exists()


# The command migrates first, which SQLite refuses inside a test's transaction.
@pytest.mark.django_db(transaction=True)
def test_the_command_prints_the_figures_and_a_json_line(demo, capsys):
    try:
        call_command(
            "bench",
            "--case=dashboard",
            "--transactions=1000",
            "--exceptions=100",
            "--baseline=200",
            "--runs=2",
        )
    except CommandError as exc:  # a busy machine may miss a target: the command says which
        assert str(exc).startswith("Over target: ")
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith('{"case": "dashboard"')
    assert any(line.strip().startswith("targets") for line in out)
