"""The dashboard case of ``make bench``: the overview and the list pages at a million transactions.

The tower is seeded the way a tower fills at a steady rate, in two steps:

1. the last 7 days: ``baseline`` transactions (10,000) with today's live queues
   (received, processing, retry scheduled, dead letters, blocked, awaiting
   approval), their share of the exceptions with the open backlog and its SLA
   breaches, and the invoices of this month (open) and last month (posted);
2. the history before that, at the same rate: the other transactions, all finished,
   the other exceptions, all closed, and the paid invoices of the months before.

After each step the roll-ups are rebuilt from the rows and the tables vacuumed and
analyzed; ``overview_figures`` and the overview page are timed after both, and their
ratio says whether the overview grows with history (target at most 1.5). The list pages
are timed after the second step, each a GET through Django's test client by a signed-in
operator; how many rows each list holds is counted through the same filter sets as the
API.

The seeding is in ``bench.dashboard_seed``; the seeded rows are deleted afterwards unless
``--keep``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.db import connection
from django.http import QueryDict
from django.test import Client, override_settings
from django.urls import reverse

from bench.base import Report, percentile_of
from bench.dashboard_seed import (
    RECENT,
    DashboardBenchError,
    DashboardOptions,
    Seed,
    business_key_of,
    seed_delete,
    seed_history,
    seed_prepare,
    seed_recent,
    seed_settle,
)
from controltower.operations.filtersets import BusinessExceptionFilterSet
from controltower.operations.models import BusinessException
from controltower.operations.selectors.overview import overview_figures
from integrations.choices import ExceptionStatus, FlowKind
from integrations.filtersets import TransactionFilterSet
from integrations.models import Transaction

OVERVIEW_P95_TARGET_MS = 150.0
LIST_P95_TARGET_MS = 300.0
RATIO_TARGET = 1.5
PAGE_SIZE = 25


@dataclass
class Timing:
    name: str
    samples: list[float]  # milliseconds
    rows: int = 0

    def percentile(self, p: int) -> float:
        return percentile_of(self.samples, p)


@dataclass
class DashboardResult:
    """``baseline`` and ``overview``: the selector and the page, at the two sizes."""

    options: DashboardOptions
    run_id: str
    database: str
    seed_seconds: dict[str, float]
    baseline: list[Timing]
    overview: list[Timing]
    lists: list[Timing]
    kept: bool
    notes: list[str] = field(default_factory=list)

    def ratio(self, which: int = 1, percentile: int = 50) -> float:
        """At the full size against the baseline: 0 the selector, 1 the page."""
        before = self.baseline[which].percentile(percentile)
        return self.overview[which].percentile(percentile) / max(before, 1e-9)

    @property
    def page(self) -> Timing:
        return self.overview[1]

    def misses(self) -> list[str]:
        missed = []
        if self.page.percentile(95) > OVERVIEW_P95_TARGET_MS:
            missed.append(
                f"overview page p95 {self.page.percentile(95):.1f} ms > {OVERVIEW_P95_TARGET_MS:.0f} ms"
            )
        if self.ratio() > RATIO_TARGET:
            missed.append(f"overview page ratio {self.ratio():.2f} > {RATIO_TARGET}")
        for timing in self.lists:
            if timing.percentile(95) > LIST_P95_TARGET_MS:
                missed.append(
                    f"{timing.name} p95 {timing.percentile(95):.1f} ms > {LIST_P95_TARGET_MS:.0f} ms"
                )
        return missed

    def summary_lines(self) -> list[str]:
        o = self.options
        seed = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.seed_seconds.items())
        ratios = ", ".join(
            f"{label} {self.ratio(i):.2f} at p50 and {self.ratio(i, 95):.2f} at p95"
            for i, label in ((1, "page"), (0, "selector"))
        )
        return [
            "Integration Control Tower benchmark: dashboard",
            f"  run              {self.run_id} ({self.database})",
            f"  seeded           {o.transactions:,} transactions, {o.exceptions:,} exceptions"
            f" ({o.baseline:,} and {o.baseline * o.exceptions // o.transactions:,} in the last 7 days)",
            f"  seed time        {seed}",
            f"  runs             {o.runs} per page, after 2 warm-up runs",
            f"  {'':<48} {'p50 ms':>8}  {'p95 ms':>8}   rows in the list",
            *(_line(t.name, t) for t in (*self.baseline, *self.overview, *self.lists)),
            f"  overview ratio   {ratios} ({o.transactions:,} against {o.baseline:,} "
            f"transactions; target <= {RATIO_TARGET})",
            f"  targets          overview page p95 <= {OVERVIEW_P95_TARGET_MS:.0f} ms, "
            f"list pages p95 <= {LIST_P95_TARGET_MS:.0f} ms: "
            + ("met" if not self.misses() else "MISSED: " + "; ".join(self.misses())),
            f"  seeded rows      {'kept (--keep)' if self.kept else 'deleted after the run'}",
            *(f"  note             {note}" for note in self.notes),
        ]

    def as_json(self) -> str:
        def ms(t: Timing) -> dict[str, float]:
            return {"p50_ms": round(t.percentile(50), 1), "p95_ms": round(t.percentile(95), 1)}

        return json.dumps(
            {
                "case": "dashboard",
                "database": self.database,
                "transactions": self.options.transactions,
                "exceptions": self.options.exceptions,
                "baseline": self.options.baseline,
                "overview_page": ms(self.overview[1]),
                "overview_page_baseline": ms(self.baseline[1]),
                "overview_figures": ms(self.overview[0]),
                "overview_figures_baseline": ms(self.baseline[0]),
                "ratio": round(self.ratio(), 2),
                "ratio_figures": round(self.ratio(0), 2),
                "lists": {t.name: ms(t) for t in self.lists},
                "targets_met": not self.misses(),
            }
        )


def _line(name: str, timing: Timing) -> str:
    rows = f"{timing.rows:,}" if timing.rows else ""
    return f"  {name:<48} {timing.percentile(50):>8.1f}  {timing.percentile(95):>8.1f}   {rows}"


# --- Timing ----------------------------------------------------------------------


def time_it(name: str, call: Callable[[], Any], runs: int, rows: int = 0) -> Timing:
    for _ in range(2):  # warm-up: plans cached, pages in memory
        call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return Timing(name=name, samples=samples, rows=rows)


@contextmanager
def browser(seed: Seed) -> Iterator[Client]:
    """A signed-in operator of the first bench team, asking the pages in process."""
    user = get_user_model().objects.get(pk=seed.user_id)
    with override_settings(ALLOWED_HOSTS=["testserver"], SECURE_SSL_REDIRECT=False):
        client = Client()
        client.force_login(user)
        try:
            yield client
        finally:
            client.logout()


def _get(client: Client, url: str) -> Callable[[], None]:
    def run() -> None:
        response = client.get(url)
        if response.status_code != 200:
            raise DashboardBenchError(f"GET {url} answered {response.status_code}.")

    return run


def _count(filterset_class, queryset, data: dict[str, Any]) -> int:
    """How many rows a list holds, through the filter set its page uses (not timed)."""
    filterset = filterset_class(data=QueryDict(urlencode(data, doseq=True)), queryset=queryset)
    if not filterset.is_valid():
        raise DashboardBenchError(f"Invalid list filter {data}: {filterset.errors}")
    return filterset.qs.count()


def page_cases(seed: Seed) -> list[tuple[str, str, int]]:
    """The list pages timed: (name, URL, rows the list holds)."""
    day_ago = (seed.now - dt.timedelta(days=1)).isoformat()
    month_ago = seed.now - dt.timedelta(days=30)
    team = str(seed.team_ids[0])
    key = business_key_of(seed.tx_first + seed.options.transactions // 2)
    every_status = [str(s) for s in ExceptionStatus]
    transactions = [
        ("transactions: newest first", {}),
        (
            "transactions: a flow's dead letters",
            {"flow": FlowKind.TIME_TO_BILLING, "state": ["dead"]},
        ),
        (
            "transactions: a flow's succeeded",
            {"flow": FlowKind.MASTER_DATA_SYNC, "state": ["succeeded"]},
        ),
        (
            "transactions: a flow, last 24 h",
            {"flow": FlowKind.MASTER_DATA_SYNC, "received_after": day_ago},
        ),
        (
            "transactions: one day, a month ago",
            {
                "received_after": (month_ago - dt.timedelta(days=1)).isoformat(),
                "received_before": month_ago.isoformat(),
            },
        ),
        ("transactions: one business key", {"business_key": key}),
    ]
    exceptions = [
        ("exceptions: the open queue", {"status": ["open", "in_progress"]}, {}),
        (
            "exceptions: a team's open queue",
            {"team": team, "status": ["open", "in_progress"]},
            {"team": team},
        ),
        (
            "exceptions: a team's resolved",
            {"team": team, "status": ["resolved"]},
            {"team": team, "status": ["resolved"]},
        ),
        ("exceptions: every status", {"status": every_status}, {"status": every_status}),
    ]
    tx_url, exc_url = reverse("transactions:list"), reverse("exceptions:list")
    all_tx, all_exc = Transaction.objects.all(), BusinessException.objects.all()
    return [
        (
            name,
            f"{tx_url}?{urlencode(data, doseq=True)}",
            _count(TransactionFilterSet, all_tx, data),
        )
        for name, data in transactions
    ] + [
        (
            name,
            f"{exc_url}?{urlencode(query, doseq=True)}",
            _count(BusinessExceptionFilterSet, all_exc, data),
        )
        for name, data, query in exceptions
    ]


def time_overview(seed: Seed, runs: int, label: str) -> list[Timing]:
    with browser(seed) as client:
        return [
            time_it(f"overview_figures() at {label}", overview_figures, runs),
            time_it(f"overview page at {label}", _get(client, reverse("home")), runs),
        ]


def time_lists(seed: Seed, runs: int) -> list[Timing]:
    cases = page_cases(seed)
    with browser(seed) as client:
        return [time_it(name, _get(client, url), runs, rows) for name, url, rows in cases]


# --- The run ---------------------------------------------------------------------


def _load() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0


def run_dashboard_bench(options: DashboardOptions, report: Report) -> DashboardResult:
    if options.baseline >= options.transactions:
        raise DashboardBenchError("--baseline must be smaller than --transactions.")
    seed = seed_prepare(options, report)
    seconds: dict[str, float] = {}
    kept = options.keep
    try:
        seconds["last 7 days"] = seed_recent(seed, report)
        seconds["settle"] = seed_settle(seed, since=seed.now - RECENT - dt.timedelta(hours=1))
        report(f"Timing the overview at {options.baseline:,} transactions ...")
        load = {f"overview at {options.baseline:,}": _load()}
        baseline = time_overview(seed, options.runs, f"{options.baseline:,}")
        seconds["history"] = seed_history(seed, report)
        started = time.perf_counter()
        seconds["settle"] += seed_settle(seed, since=seed.earliest)
        report(f"  roll-ups rebuilt and tables analyzed in {time.perf_counter() - started:.1f} s")
        report(f"Timing the overview and the lists at {options.transactions:,} transactions ...")
        load[f"overview at {options.transactions:,}"] = _load()
        overview = time_overview(seed, options.runs, f"{options.transactions:,}")
        load["lists"] = _load()
        lists = time_lists(seed, options.runs)
    except BaseException:
        kept = False
        seed_delete(seed, report)
        raise
    if not options.keep:
        seconds["delete"] = seed_delete(seed, report)
    return DashboardResult(
        options=options,
        run_id=seed.run_id,
        database=connection.vendor,
        seed_seconds=seconds,
        baseline=baseline,
        overview=overview,
        lists=lists,
        kept=kept,
        notes=[
            "server time in process: a page is a GET through Django's test client by a "
            f"signed-in operator (view, queries, template; {PAGE_SIZE} rows a page), no network",
            f"load average when timing began ({os.cpu_count()} cores): "
            + ", ".join(f"{name} {value:.2f}" for name, value in load.items()),
        ],
    )
