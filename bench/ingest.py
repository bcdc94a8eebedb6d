"""The end-to-end benchmark behind ``make bench``.

Signed batches of ``customer.upserted`` events go through the real inbound API of a
running tower (the one at ``--url``, or one the bench starts for the run: an ASGI
server and a Celery worker on the configured database and broker). Two rates come
out: accepted events/s (first send to last 202) and processed events/s (first send
until every transaction of the run is final, read from the shared database).
"""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.models import Count

from integrations.choices import TransactionState
from integrations.models import ConnectedSystem, Transaction
from integrations.signatures import HEADER, sign

Report = Callable[[str], None]

# The demo's legal entities (``load_demo``) and their currencies.
LEGAL_ENTITIES = (("US01", "USD"), ("GB01", "GBP"), ("DE01", "EUR"))
UNFINISHED = (
    TransactionState.RECEIVED,
    TransactionState.PROCESSING,
    TransactionState.RETRY_SCHEDULED,
)
POLL_SECONDS = 0.25
PROGRESS_SECONDS = 10.0
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
REQUEST_TIMEOUT_SECONDS = 120.0


class BenchError(Exception):
    """The run could not be completed; the message says why."""


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
            }
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
            f"  chunk size       {self.chunk_size if self.chunk_size else 'as the tower is configured'}",
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
            *(f"  note             {note}" for note in self.notes),
        ]


def percentile_of(values: list[float], percentile: int) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[percentile - 1]


def database_vendor() -> str:
    return connection.vendor


def broker_name() -> str:
    return "redis" if settings.REDIS_URL else "filesystem"


# --- Events ----------------------------------------------------------------------


def new_run_id() -> str:
    return f"bench-{uuid.uuid4().hex[:10]}"


def customer_event(run_id: str, index: int) -> dict[str, Any]:
    """One event shaped like ``tests.support.inbound.customer_event`` (canonical dialect)."""
    legal_entity, currency = LEGAL_ENTITIES[index % len(LEGAL_ENTITIES)]
    number = f"{run_id}-{index:07d}".upper()
    return {
        "type": "customer.upserted",
        "id": f"{run_id}-{index:07d}",
        "occurred_at": "2026-11-02T09:30:00Z",
        "version": 1,
        "data": {
            "number": number,
            "name": f"Customer {number} v1",
            "legal_entity": legal_entity,
            "currency": currency,
        },
    }


BENCH_PROJECTS = 10


def time_entry_event(run_id: str, index: int) -> dict[str, Any]:
    """Approved time on one of the run's projects, spread over the months of 2026."""
    return {
        "type": "time_entry.approved",
        "id": f"{run_id}-{index:07d}",
        "occurred_at": "2026-11-02T09:30:00Z",
        "version": 1,
        "data": {
            "number": f"{run_id}-T{index:07d}".upper(),
            "project": f"{run_id}-P{index % BENCH_PROJECTS}".upper(),
            "resource": "E-0002",
            "work_date": f"2026-{index // BENCH_PROJECTS % 12 + 1:02d}-{index % 28 + 1:02d}",
            "hours": 1 + index % 8,
            "billable": True,
        },
    }


def time_to_billing_setup(run_id: str) -> None:
    """Signed contracts with active projects and a Manager assigned, for the run's time."""
    from datetime import date

    from canonical.models import (
        Assignment,
        Contract,
        ContractVersion,
        Customer,
        Project,
        RateCard,
        Resource,
    )

    customer = Customer.objects.select_related("legal_entity").get(number="C-1001")
    card = RateCard.objects.get(code="RC-US-STD")
    manager = Resource.objects.get(employee_number="E-0002")
    for n in range(BENCH_PROJECTS):
        contract = Contract.objects.create(
            number=f"{run_id}-K{n}".upper(),
            customer=customer,
            legal_entity=customer.legal_entity,
            rate_card=card,
            currency="USD",
            start_date=date(2026, 1, 1),
            status="signed",
            source_system="bench",
        )
        ContractVersion.objects.create(
            contract=contract, version=1, terms={"rates": {}}, effective_date=date(2026, 1, 1)
        )
        project = Project.objects.create(
            code=f"{run_id}-P{n}".upper(),
            name=f"Bench {n}",
            contract=contract,
            customer=customer,
            legal_entity=customer.legal_entity,
            status="active",
            start_date=date(2026, 1, 1),
            source_system="bench",
        )
        Assignment.objects.create(
            number=f"{run_id}-A{n}".upper(),
            project=project,
            resource=manager,
            role="Manager",
            start_date=date(2026, 1, 1),
            allocation_percent=50,
            source_system="bench",
        )


CASES: dict[str, tuple[str, Callable[[str, int], dict[str, Any]]]] = {
    "master_data": ("crm", customer_event),
    "time_to_billing": ("psa", time_entry_event),
}


def batch_bodies(run_id: str, events: int, batch: int, case: str = "master_data") -> list[bytes]:
    """The request bodies, serialized before the clock starts."""
    _, make = CASES[case]
    return [
        json.dumps(
            [make(run_id, i) for i in range(start, min(start + batch, events))],
            separators=(",", ":"),
        ).encode()
        for start in range(0, events, batch)
    ]


def signing_secret(system_slug: str) -> str:
    """The secret the tower checks for this system (CT_SECRET_<SLUG>, or the demo one)."""
    system = ConnectedSystem.objects.filter(slug=system_slug).first()
    if system is None:
        raise BenchError(f"No connected system {system_slug!r}; run `manage.py load_demo` first.")
    secrets = system.inbound_secrets()
    if not secrets:
        raise BenchError(f"No inbound secret for {system_slug!r}: set {system.secret_env_name}.")
    return secrets[0]


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


# --- A tower for the run ---------------------------------------------------------


def prepare_database(report: Report) -> None:
    """Creates the PostgreSQL database when missing, then migrates and loads the demo."""
    if settings.DATABASE_VENDOR == "postgresql":
        _create_postgres_database(report)
    report("Migrating and loading the demo configuration ...")
    call_command("migrate", interactive=False, verbosity=0)
    call_command("load_demo", stdout=io.StringIO())


def _create_postgres_database(report: Report) -> None:
    import psycopg
    from psycopg import sql

    db = settings.DATABASES["default"]
    params = {
        "dbname": "postgres",
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
    }
    with psycopg.connect(**{k: v for k, v in params.items() if v}, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]
        ).fetchone()
        if not exists:
            report(f"Creating the PostgreSQL database {db['NAME']!r} ...")
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ChildProcess:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- last lines of the {self.name} log ({self.log}) ---\n" + "\n".join(
            text.splitlines()[-lines:]
        )

    def stop(self) -> None:
        if not self.alive():
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except ProcessLookupError:
            pass


def _spawn(name: str, args: list[str], log_dir: Path) -> ChildProcess:
    log = log_dir / f"{name}.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return ChildProcess(name=name, process=process, log=log)


def _wait_ready(child: ChildProcess, ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if ready():
            return
        if not child.alive():
            raise BenchError(f"The {child.name} exited while starting.\n{child.tail()}")
        time.sleep(0.2)
    raise BenchError(f"Timed out waiting for {what}.\n{child.tail()}")


def healthz(base_url: str) -> dict[str, Any] | None:
    try:
        response = httpx.get(f"{base_url}/healthz", timeout=2)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


def purge_broker() -> int:
    """Drops the messages waiting in the tower's queues (a run measures only its own)."""
    from controltower.celery import app

    # kombu warns that a filesystem:// URL names no host; nothing is wrong.
    kombu_log = logging.getLogger("kombu.connection")
    level = kombu_log.level
    kombu_log.setLevel(logging.ERROR)
    try:
        return app.control.purge() or 0
    finally:
        kombu_log.setLevel(level)


@contextmanager
def local_tower(*, concurrency: int, report: Report) -> Iterator[tuple[str, list[ChildProcess]]]:
    """An ASGI server and a Celery worker for the run; stopped on the way out, whatever happens."""
    purged = purge_broker()
    if purged:
        report(f"Purged {purged:,} messages left in the broker queues.")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    children: list[ChildProcess] = []
    with tempfile.TemporaryDirectory(prefix="ct-bench-") as folder:
        log_dir = Path(folder)
        try:
            report(f"Starting a worker (concurrency {concurrency}) and a server on port {port} ...")
            worker = _spawn(
                "worker",
                [
                    "celery", "-A", "controltower", "worker",
                    f"--concurrency={concurrency}",
                    # " ready." is logged at INFO: at WARNING nothing tells that the worker is up.
                    "--loglevel=INFO",
                    "--without-gossip", "--without-mingle", "--without-heartbeat",
                    f"--hostname=bench-{os.getpid()}@%h",
                ],
                log_dir,
            )  # fmt: skip
            children.append(worker)
            server = _spawn(
                "server",
                [
                    "uvicorn", "controltower.asgi:application",
                    "--host", "127.0.0.1", "--port", str(port),
                    "--no-access-log", "--log-level", "warning",
                ],
                log_dir,
            )  # fmt: skip
            children.append(server)
            _wait_ready(server, lambda: healthz(base_url) is not None, "the server to answer")
            _wait_ready(
                worker, lambda: " ready." in worker.log.read_text(errors="replace"), "the worker"
            )
            yield base_url, children
        finally:
            for child in reversed(children):
                child.stop()


# --- The run ---------------------------------------------------------------------


def run_bench(options: BenchOptions, report: Report) -> BenchResult:
    if options.url:
        return _measure(options, options.url.rstrip("/"), [], report)
    prepare_database(report)
    with local_tower(concurrency=options.concurrency, report=report) as (base_url, children):
        return _measure(options, base_url, children, report)


def _measure(
    options: BenchOptions, base_url: str, children: list[ChildProcess], report: Report
) -> BenchResult:
    _check_same_database(base_url)
    notes = refresh_statistics()
    system = CASES[options.case][0] if options.case != "master_data" else options.system
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
