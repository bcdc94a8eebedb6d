"""The demo's history: the simulator's traffic taken in as if it had arrived over 30 days."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from canonical.models import Invoice
from controltower.operations.demo import demo_operations_load
from controltower.operations.history import history_load, history_read
from controltower.operations.models import BusinessException, SlaBreach
from controltower.operations.selectors.overview import throughput_by_day
from integrations.choices import ExceptionStatus
from integrations.models import Transaction

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def history_file(simulator, tmp_path):
    demo_operations_load()  # the teams and SLA policies of the demo
    path = tmp_path / "history.json"
    call_command(
        "generate_traffic",
        contracts=3,
        days=6,
        volume=1,
        error_share=0.4,
        seed=7,
        start=date(2026, 11, 2),
        batch=5,
        out=str(path),
        stdout=io.StringIO(),
    )
    return path


def test_generate_traffic_out_writes_the_requests_in_sending_order_and_sends_nothing(
    history_file,
):
    requests = history_read(str(history_file))
    assert requests
    assert [r["phase"] for r in requests] == sorted(r["phase"] for r in requests)
    assert {r["system"] for r in requests} >= {"clm", "psa"}
    assert Transaction.objects.count() == 0


def test_the_history_spreads_the_traffic_over_days_with_resolved_and_breached_exceptions(
    history_file,
):
    summary = history_load(requests=history_read(str(history_file)), days=30, now=NOW)

    assert summary.accepted > 0
    received = sorted({d.date() for d in Transaction.objects.values_list("received_at", flat=True)})
    assert len(received) >= 5
    assert received[0] >= datetime(2026, 11, 1, tzinfo=UTC).date()
    assert received[-1] <= NOW.date()

    chart = throughput_by_day(days=31, now=NOW)
    busy_days = [
        day
        for i, day in enumerate(chart["days"])
        if sum(series["received"][i] for series in chart["series"].values())
    ]
    assert len(busy_days) > 1

    statuses = set(BusinessException.objects.values_list("status", flat=True))
    assert ExceptionStatus.RESOLVED in statuses
    assert BusinessException.objects.filter(
        status__in=(ExceptionStatus.OPEN, ExceptionStatus.IN_PROGRESS)
    ).exists()
    assert SlaBreach.objects.filter(breached_at__isnull=False).exists()
    # The clock only moved forward: nothing was resolved before it was raised.
    resolved = BusinessException.objects.filter(resolved_at__isnull=False)
    assert all(exc.resolved_at >= exc.created_at for exc in resolved)
    assert summary.resolved > 0
    assert summary.invoices_approved > 0
    posted = Invoice.objects.filter(posted_at__isnull=False)
    assert posted.exists()
    assert all(invoice.posted_at < NOW for invoice in posted)
    assert summary.sweeps.get("breached", 0) > 0
    run = Transaction.objects.get(pk=summary.reconciliation)
    assert run.state == "succeeded"
    assert BusinessException.objects.filter(exception_type="reconciliation_drift").exists()
    assert BusinessException.objects.filter(money_at_risk__gt=0).exists()


def test_load_history_prints_what_it_took_in(history_file):
    out = io.StringIO()
    call_command("load_history", str(history_file), history_days=5, stdout=out)
    printed = json.loads(out.getvalue().strip().splitlines()[-1])
    assert printed["requests"] == len(history_read(str(history_file)))
    # What the engine started itself (re-runs, follow-ups) comes on top of what arrived.
    assert 0 < printed["accepted"] <= Transaction.objects.count()
    assert printed["resolved"] > 0


def test_generate_traffic_can_end_the_time_days_before_today(simulator, tmp_path):
    path = tmp_path / "history.json"
    call_command(
        "generate_traffic",
        contracts=1,
        days=3,
        volume=1,
        error_share=0,
        seed=3,
        ends_days_ago=6,
        out=str(path),
        stdout=io.StringIO(),
    )
    start = date.fromisoformat(json.loads(path.read_text())["start"])
    # Three working days, all before the day six days ago.
    assert start <= timezone.localdate() - timedelta(days=9)


def test_load_history_says_when_it_cannot_read_its_file(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("load_history", str(tmp_path / "missing.json"), stdout=io.StringIO())
