"""The ingest case of ``make bench``: events in through the HTTP door and processed to the end.

Signed batches of ``customer.upserted`` events (``time_entry.approved`` in the
time-to-billing case) go through the real inbound API of a running tower (the one at
``--url``, or one the bench starts for the run: an ASGI server and a Celery worker on the
configured database and broker). Two rates come out: accepted events/s (first send to
last 202) and processed events/s (first send until every transaction of the run is
final, read from the shared database).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
from django.conf import settings
from django.db import connection
from django.db.models import Count

from bench.anchors import Anchors, anchors_measure
from bench.base import BenchError, Report, percentile_of
from bench.ingest_events import (
    CASES,
    batch_bodies,
    new_run_id,
    signing_secret,
    time_to_billing_setup,
)
from bench.memory import worker_memory_notes
from bench.statements import statement_notes
from bench.tower import (
    START_TIMEOUT_SECONDS,
    ChildProcess,
    healthz,
    local_tower,
    prepare_database,
)
from integrations.choices import TransactionState
from integrations.models import Transaction
from integrations.signatures import HEADER, sign

UNFINISHED = (
    TransactionState.RECEIVED,
    TransactionState.PROCESSING,
    TransactionState.RETRY_SCHEDULED,
)
POLL_SECONDS = 0.25
PROGRESS_SECONDS = 10.0
REQUEST_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class BenchOptions:
    events: int = 20_000
    batch: int = 500
    url: str | None = None
    system: str = "crm"
    concurrency: int = 2
    senders: int = 2
    timeout: float = 600.0
    case: str = "master_data"
    anchor_rows: int = 10_000
    anchor_tasks: int = 2_000


@dataclass
class SendResult:
    accepted: int = 0
    duplicates: int = 0
    latencies: list[float] = field(default_factory=list)
    first_send: float = float("inf")
    last_response: float = 0.0
    min_id: int | None = None
    max_id: int | None = None

    def merge(self, other: SendResult) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.latencies += other.latencies
        self.first_send = min(self.first_send, other.first_send)
        self.last_response = max(self.last_response, other.last_response)
        ids = [i for i in (self.min_id, self.max_id, other.min_id, other.max_id) if i is not None]
        self.min_id, self.max_id = (min(ids), max(ids)) if ids else (None, None)

    @property
    def seconds(self) -> float:
        return max(self.last_response - self.first_send, 1e-9)


@dataclass
class BenchResult:
    options: BenchOptions
    run_id: str
    sent: SendResult
    processed_seconds: float
    states: Counter[str]
    database: str
    broker: str
    chunk_size: int | None
    notes: list[str] = field(default_factory=list)
    anchors: Anchors | None = None

    @property
    def accepted_per_s(self) -> float:
        return self.sent.accepted / self.sent.seconds

    @property
    def processed_per_s(self) -> float:
        return self.options.events / max(self.processed_seconds, 1e-9)

    def latency_ms(self, percentile: int) -> float:
        return percentile_of(self.sent.latencies, percentile) * 1000

    def as_json(self) -> str:
        return json.dumps(
            {
                "accepted_per_s": round(self.accepted_per_s, 1),
                "processed_per_s": round(self.processed_per_s, 1),
                "case": self.options.case,
                "events": self.options.events,
                "batch": self.options.batch,
                "database": self.database,
                "broker": self.broker,
                "p50_ms": round(self.latency_ms(50), 1),
                "p95_ms": round(self.latency_ms(95), 1),
                "succeeded": self.states.get(TransactionState.SUCCEEDED, 0),
                **self._anchor_figures(),
            }
        )

    def _anchor_figures(self) -> dict[str, float]:
        if self.anchors is None:
            return {}
        return self.anchors.as_dict(
            accepted_per_s=self.accepted_per_s, processed_per_s=self.processed_per_s
        )

    def summary_lines(self) -> list[str]:
        o = self.options
        batches = -(-o.events // o.batch)
        tower = (
            f"at {o.url}"
            if o.url
            else f"started by the bench: 1 ASGI server, 1 worker at concurrency {o.concurrency}"
        )
        states = ", ".join(f"{state} {n:,}" for state, n in sorted(self.states.items()))
        return [
            "Integration Control Tower benchmark",
            f"  run              {self.run_id} ({o.case}, system {CASES[o.case][0] if o.case != 'master_data' else o.system})",
            f"  events           {o.events:,} in {batches:,} batches of up to {o.batch:,}",
            f"  senders          {o.senders}",
            f"  tower            {tower}",
            f"  chunk size       {self.chunk_size if self.chunk_size else 'as the tower is configured'}"
            + (f" (set-based work {settings.CT_BATCH_CHUNK_SIZE})" if self.chunk_size else ""),
            f"  database         {self.database}",
            f"  broker           {self.broker}",
            f"  accepted         {self.sent.accepted:,} in {self.sent.seconds:.2f} s"
            f" = {self.accepted_per_s:,.0f} events/s"
            + (f" ({self.sent.duplicates:,} duplicates)" if self.sent.duplicates else ""),
            f"  processed        {o.events:,} in {self.processed_seconds:.2f} s"
            f" = {self.processed_per_s:,.0f} events/s",
            f"  request latency  p50 {self.latency_ms(50):,.0f} ms, p95 {self.latency_ms(95):,.0f} ms,"
            f" max {max(self.sent.latencies, default=0) * 1000:,.0f} ms"
            f" ({len(self.sent.latencies):,} requests)",
            f"  final states     {states or 'none'}",
            *(
                self.anchors.summary_lines(
                    accepted_per_s=self.accepted_per_s,
                    processed_per_s=self.processed_per_s,
                    case=o.case,
                )
                if self.anchors
                else []
            ),
            *(f"  note             {note}" for note in self.notes),
        ]


def database_vendor() -> str:
    return connection.vendor


def broker_name() -> str:
    return "redis" if settings.REDIS_URL else "filesystem"


# --- Sending ---------------------------------------------------------------------


def send_all(
    *, base_url: str, system: str, secret: str, bodies: list[bytes], senders: int
) -> SendResult:
    """Sends the bodies from ``senders`` threads, each with its own client and share."""
    shares = [bodies[i::senders] for i in range(senders) if bodies[i::senders]]
    start = threading.Barrier(len(shares))
    stop = threading.Event()

    def run(share: list[bytes]) -> SendResult:
        try:
            return _send_share(
                base_url=base_url,
                system=system,
                secret=secret,
                bodies=share,
                start=start,
                stop=stop,
            )
        except Exception:
            stop.set()
            start.abort()
            raise

    total = SendResult()
    with ThreadPoolExecutor(max_workers=len(shares), thread_name_prefix="bench-sender") as pool:
        futures = [pool.submit(run, share) for share in shares]
        try:
            for future in futures:
                total.merge(future.result())
        except BaseException:
            stop.set()
            start.abort()
            raise
    return total


def _send_share(
    *,
    base_url: str,
    system: str,
    secret: str,
    bodies: list[bytes],
    start: threading.Barrier,
    stop: threading.Event,
) -> SendResult:
    url = f"{base_url}/api/v1/inbound/{system}/"
    result = SendResult()
    with httpx.Client(timeout=REQUEST_TIMEOUT_SECONDS) as client:
        # Open the connection before the clock starts.
        client.get(f"{base_url}/healthz")
        try:
            start.wait(timeout=START_TIMEOUT_SECONDS)
        except threading.BrokenBarrierError:
            return result
        for body in bodies:
            if stop.is_set():
                break
            headers = {HEADER: sign(secret, body), "Content-Type": "application/json"}
            sent = time.perf_counter()
            response = client.post(url, content=body, headers=headers)
            answered = time.perf_counter()
            _record(result, response, sent, answered)
    return result


def _record(result: SendResult, response: httpx.Response, sent: float, answered: float) -> None:
    if response.status_code not in (200, 202):
        raise BenchError(
            f"POST {response.request.url} answered {response.status_code}: {response.text[:500]}"
        )
    data = response.json()
    ids = data.get("transaction_ids") or []
    result.accepted += data["accepted"]
    result.duplicates += data["duplicates"]
    result.latencies.append(answered - sent)
    result.first_send = min(result.first_send, sent)
    result.last_response = max(result.last_response, answered)
    if ids:
        result.min_id = min(ids) if result.min_id is None else min(result.min_id, *ids)
        result.max_id = max(ids) if result.max_id is None else max(result.max_id, *ids)


# --- Progress --------------------------------------------------------------------


def state_counts(run_id: str, id_range: tuple[int, int] | None = None) -> Counter[str]:
    """This run's transactions by state (the id range, when known, keeps the query cheap)."""
    rows = Transaction.objects.filter(idempotency_key__startswith=f"{run_id}-")
    if id_range is not None:
        rows = rows.filter(pk__range=id_range)
    counts = rows.order_by().values_list("state").annotate(n=Count("pk"))
    return Counter({state: n for state, n in counts})


def wait_until_finished(
    *,
    run_id: str,
    expected: int,
    id_range: tuple[int, int] | None,
    timeout: float,
    report: Report,
    on_timeout: Callable[[], str] | None = None,
) -> tuple[float, Counter[str]]:
    """Polls the database until every transaction of the run is final; returns when, and states."""
    deadline = time.perf_counter() + timeout
    next_progress = time.perf_counter() + PROGRESS_SECONDS
    while True:
        counts = state_counts(run_id, id_range)
        now = time.perf_counter()
        unfinished = sum(counts[state] for state in UNFINISHED)
        finished = sum(counts.values()) - unfinished
        if finished >= expected and not unfinished:
            return now, counts
        if now >= deadline:
            detail = f"\n{on_timeout()}" if on_timeout else ""
            raise BenchError(
                f"Timed out after {timeout:.0f} s: {expected - finished:,} of {expected:,} "
                f"transactions are not finished ({_states(counts) or 'none stored'}).{detail}"
            )
        if now >= next_progress:
            report(f"  ... {finished:,} of {expected:,} finished")
            next_progress = now + PROGRESS_SECONDS
        time.sleep(POLL_SECONDS)


def _states(counts: Counter[str]) -> str:
    return ", ".join(f"{state} {n:,}" for state, n in sorted(counts.items()))


# --- The run ---------------------------------------------------------------------


def run_bench(options: BenchOptions, report: Report) -> BenchResult:
    if options.url:
        return _measure(options, options.url.rstrip("/"), [], report)
    prepare_database(report)
    with local_tower(concurrency=options.concurrency, report=report) as (base_url, children):
        result = _measure(options, base_url, children, report)
        result.notes.extend(worker_memory_notes(children, events=options.events))
    result.notes += statement_notes(case=options.case, run_id=result.run_id, events=options.events)
    return result


def _measure(
    options: BenchOptions, base_url: str, children: list[ChildProcess], report: Report
) -> BenchResult:
    _check_same_database(base_url)
    notes = refresh_statistics()
    system = CASES[options.case][0] if options.case != "master_data" else options.system
    anchors = anchors_measure(
        insert_rows=options.anchor_rows,
        tasks=options.anchor_tasks,
        concurrency=options.concurrency,
        system=system,
        report=report,
    )
    secret = signing_secret(system)
    run_id = new_run_id()
    if options.case == "time_to_billing":
        time_to_billing_setup(run_id)
    bodies = batch_bodies(run_id, options.events, options.batch, options.case)
    report(f"Sending {options.events:,} events in {len(bodies):,} batches as run {run_id} ...")
    sent = send_all(
        base_url=base_url,
        system=system,
        secret=secret,
        bodies=bodies,
        senders=options.senders,
    )
    report(f"Accepted {sent.accepted:,} in {sent.seconds:.2f} s; waiting for processing ...")
    id_range = (
        (sent.min_id, sent.max_id) if sent.min_id is not None and sent.max_id is not None else None
    )
    finished_at, states = wait_until_finished(
        run_id=run_id,
        expected=options.events,
        id_range=id_range,
        timeout=options.timeout,
        report=report,
        on_timeout=lambda: "\n".join(child.tail() for child in children),
    )
    return BenchResult(
        options=options,
        run_id=run_id,
        sent=sent,
        processed_seconds=finished_at - sent.first_send,
        states=states,
        database=database_vendor(),
        broker=broker_name(),
        chunk_size=None if options.url else settings.CT_CHUNK_SIZE,
        notes=notes,
        anchors=anchors,
    )


def refresh_statistics() -> list[str]:
    """ANALYZE on PostgreSQL, so that every run starts from statistics that match the tables.

    Without autovacuum the planner never learns how the tables grew, and plans picked for
    empty tables (a scan of every transaction of the system to find duplicates) make each
    run slower than the one before.
    """
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        autovacuum = cursor.fetchone()[0]
        cursor.execute("ANALYZE")
    if autovacuum == "on":
        return ["statistics refreshed with ANALYZE before the run"]
    return [
        "PostgreSQL autovacuum is off here: statistics refreshed with ANALYZE before the run, "
        "and not again during it"
    ]


def _check_same_database(base_url: str) -> None:
    health = healthz(base_url)
    if health is None:
        raise BenchError(f"No tower answers at {base_url}/healthz.")
    if health.get("database") != database_vendor():
        raise BenchError(
            f"The tower at {base_url} uses {health.get('database')}, this bench {database_vendor()}: "
            "they must share DATABASE_URL, the bench reads progress from the database."
        )
