"""Anchors: what this machine does at its simplest, measured in the same run as the figures.

An accepted/s or processed/s figure alone says little on a shared or unknown machine; beside
what the same database and broker do with no tower code at all it says how much the tower
costs. Two anchors:

- (A) raw batched insert rows/s: rows shaped like an inbound transaction (the ``Transaction``
  table's columns, a customer event's payload and canonical form) inserted into that table
  in batches of ``ANCHOR_BATCH`` with one plain ``executemany`` INSERT per batch, a database
  transaction per batch as an inbound request has; then deleted. They are stored ``ignored``
  (final, never sent to a worker), so a run cut short leaves nothing to process.
- (B) empty Celery tasks/s: a task that does nothing but count itself done (it appends one
  byte to a file the bench reads: there is no result backend), sent ``tasks`` times to the
  tower's broker on a queue of its own and run by a worker started like the bench's worker
  (the same settings and concurrency); timed from the first send to the last completion.

The ingest case divides accepted/s by (A) and processed/s by (B).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from bench.base import BenchError, Report
from bench.ingest_events import customer_event
from bench.tower import START_TIMEOUT_SECONDS, ChildProcess, _spawn, _wait_ready
from controltower.celery import app as celery_app
from integrations.adapters import adapter_for
from integrations.choices import TransactionState
from integrations.models import ConnectedSystem, Flow, Transaction
from integrations.services.mappings import mappings_of

ANCHOR_QUEUE = "bench.anchor"
ANCHOR_BATCH = 500
# Tasks run before the clock starts, so that the pool's processes are up and connected.
WARM_UP_TASKS = 20
POLL_SECONDS = 0.005
# The targets of issue 17: accepted/s against (A), processed/s against (B), per case.
ACCEPTED_TARGET = 0.15
PROCESSED_TARGETS = {"master_data": 2.0, "time_to_billing": 1.0}


@dataclass(frozen=True)
class Anchors:
    insert_rows: int
    insert_seconds: float
    tasks: int
    tasks_seconds: float
    concurrency: int

    @property
    def insert_rows_per_s(self) -> float:
        return self.insert_rows / max(self.insert_seconds, 1e-9)

    @property
    def empty_tasks_per_s(self) -> float:
        return self.tasks / max(self.tasks_seconds, 1e-9)

    def accepted_ratio(self, accepted_per_s: float) -> float:
        return accepted_per_s / max(self.insert_rows_per_s, 1e-9)

    def processed_ratio(self, processed_per_s: float) -> float:
        return processed_per_s / max(self.empty_tasks_per_s, 1e-9)

    def as_dict(self, *, accepted_per_s: float, processed_per_s: float) -> dict[str, float]:
        return {
            "anchor_insert_rows_per_s": round(self.insert_rows_per_s, 1),
            "anchor_empty_tasks_per_s": round(self.empty_tasks_per_s, 1),
            "accepted_ratio": round(self.accepted_ratio(accepted_per_s), 3),
            "processed_ratio": round(self.processed_ratio(processed_per_s), 3),
        }

    def summary_lines(
        self, *, accepted_per_s: float, processed_per_s: float, case: str = "master_data"
    ) -> list[str]:
        accepted = self.accepted_ratio(accepted_per_s)
        processed = self.processed_ratio(processed_per_s)
        target = PROCESSED_TARGETS.get(case, PROCESSED_TARGETS["master_data"])
        return [
            f"  anchor (A)       raw batched insert: {self.insert_rows:,} rows in batches of"
            f" {ANCHOR_BATCH} in {self.insert_seconds:.2f} s = {self.insert_rows_per_s:,.0f} rows/s",
            f"  anchor (B)       empty Celery tasks: {self.tasks:,} on 1 worker at concurrency"
            f" {self.concurrency} in {self.tasks_seconds:.2f} s = {self.empty_tasks_per_s:,.0f} tasks/s",
            f"  accepted ratio   {accepted:.3f} A (target >= {ACCEPTED_TARGET} A: "
            f"{'met' if accepted >= ACCEPTED_TARGET else 'missed'})",
            f"  processed ratio  {processed:.2f} B (target >= {target} B: "
            f"{'met' if processed >= target else 'missed'})",
        ]


def anchors_measure(
    *, insert_rows: int, tasks: int, concurrency: int, system: str, report: Report
) -> Anchors:
    """Both anchors, on the configured database and broker."""
    report(f"Anchor (A): inserting {insert_rows:,} raw rows in batches of {ANCHOR_BATCH} ...")
    insert_seconds = insert_anchor_measure(rows=insert_rows, system_slug=system)
    report(f"Anchor (B): {tasks:,} empty tasks on a worker at concurrency {concurrency} ...")
    tasks_seconds = empty_tasks_measure(tasks=tasks, concurrency=concurrency)
    return Anchors(
        insert_rows=insert_rows,
        insert_seconds=insert_seconds,
        tasks=tasks,
        tasks_seconds=tasks_seconds,
        concurrency=concurrency,
    )


# --- (A) raw batched insert --------------------------------------------------------


def insert_anchor_measure(*, rows: int, system_slug: str) -> float:
    """Seconds to insert ``rows`` transaction-shaped rows with plain batched INSERTs."""
    system = ConnectedSystem.objects.filter(slug=system_slug).first()
    if system is None:
        raise BenchError(f"No connected system {system_slug!r}; run `manage.py load_demo` first.")
    prefix = f"anchor-{uuid.uuid4().hex[:10]}"
    columns, template, varying = _row_template(system=system)
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        connection.ops.quote_name(Transaction._meta.db_table),
        ", ".join(connection.ops.quote_name(column) for column in columns),
        ", ".join(["%s"] * len(columns)),
    )
    # Made before the clock starts, as the ingest case serializes its bodies first.
    values = [varying(template, f"{prefix}-{i:07d}") for i in range(rows)]
    try:
        started = time.perf_counter()
        for start in range(0, rows, ANCHOR_BATCH):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.executemany(sql, values[start : start + ANCHOR_BATCH])
        seconds = time.perf_counter() - started
    finally:
        Transaction.objects.filter(
            source_system=system, idempotency_key__startswith=f"{prefix}-"
        ).delete()
    return seconds


def _row_template(*, system: ConnectedSystem) -> tuple[list[str], list[Any], Any]:
    """The columns of an inbound transaction row, one row's values as the database takes
    them, and how a row's own values (event id, keys, documents) are put in per row."""
    body = json.dumps([customer_event("anchor", 0)]).encode()
    event = adapter_for(system).parse(body=body, mappings=mappings_of(system))[0]
    flow = Flow.objects.filter(kind=event.flow_kind).first()
    if flow is None:
        raise BenchError(f"No {event.flow_kind} flow; run `manage.py load_demo` first.")
    now = timezone.now()
    row = Transaction(
        flow=flow,
        source_system=system,
        event_type=event.event_type,
        business_key=event.business_key,
        external_id=event.external_id,
        idempotency_key="",
        event_version=event.version,
        correlation_id=uuid.uuid4().hex,
        payload=event.payload,
        normalized=event.normalized,
        state=TransactionState.IGNORED,
        last_error="A row of the bench's insert anchor; deleted after the run.",
        received_at=now,
        finished_at=now,
        updated_at=now,
    )
    fields = [f for f in Transaction._meta.concrete_fields if not f.primary_key]
    columns = [f.column for f in fields]
    template = [f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields]
    index = {f.name: n for n, f in enumerate(fields)}
    payload_field = Transaction._meta.get_field("payload")
    normalized_field = Transaction._meta.get_field("normalized")

    def varying(values: list[Any], key: str) -> list[Any]:
        # Each row carries its own event id, keys and documents, as inbound rows do (the
        # canonical dialect keeps the event as its canonical form: one document for both).
        mine = list(values)
        number = key.upper()
        mine[index["idempotency_key"]] = key
        mine[index["business_key"]] = number
        mine[index["correlation_id"]] = uuid.uuid4().hex
        document = {**event.payload, "id": key, "data": {**event.payload["data"], "number": number}}
        mine[index["payload"]] = payload_field.get_db_prep_save(document, connection)
        mine[index["normalized"]] = normalized_field.get_db_prep_save(document, connection)
        return mine

    return columns, template, varying


# --- (B) empty Celery tasks --------------------------------------------------------


@celery_app.task(name="bench.anchor_empty", ignore_result=True)
def anchor_empty_task(counter: str) -> None:
    """Does nothing but count itself done: one byte appended to the bench's counter file."""
    with open(counter, "ab") as out:
        out.write(b".")


def empty_tasks_measure(*, tasks: int, concurrency: int) -> float:
    """Seconds from the first send of ``tasks`` empty tasks to the last one done."""
    with tempfile.TemporaryDirectory(prefix="ct-bench-anchor-") as folder:
        log_dir = Path(folder)
        counter = log_dir / "done"
        counter.touch()
        with anchor_worker(concurrency=concurrency, log_dir=log_dir) as worker:
            _send_and_wait(WARM_UP_TASKS, counter, worker)
            counter.write_bytes(b"")
            started = time.perf_counter()
            return _send_and_wait(tasks, counter, worker, started=started) - started


def _send_and_wait(
    tasks: int, counter: Path, worker: ChildProcess, started: float | None = None
) -> float:
    path = str(counter)
    for _ in range(tasks):
        anchor_empty_task.apply_async(args=[path], queue=ANCHOR_QUEUE)
    deadline = time.perf_counter() + START_TIMEOUT_SECONDS + tasks / 50
    while True:
        now = time.perf_counter()
        if os.path.getsize(counter) >= tasks:
            return now
        if now > deadline or not worker.alive():
            done = os.path.getsize(counter)
            raise BenchError(f"Only {done:,} of {tasks:,} empty tasks ran.\n{worker.tail()}")
        time.sleep(POLL_SECONDS)


@contextmanager
def anchor_worker(*, concurrency: int, log_dir: Path) -> Iterator[ChildProcess]:
    """A worker like the bench's (``bench.tower.local_tower``) on the anchor's queue only."""
    _purge_anchor_queue()
    worker = _spawn(
        "anchor-worker",
        [
            "celery", "-A", "controltower", "worker",
            f"--concurrency={concurrency}",
            "--loglevel=INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            f"--hostname=bench-anchor-{os.getpid()}@%h",
            f"--queues={ANCHOR_QUEUE}",
            "--include=bench.anchors",
        ],
        log_dir,
    )  # fmt: skip
    try:
        _wait_ready(
            worker, lambda: " ready." in worker.log.read_text(errors="replace"), "the anchor worker"
        )
        yield worker
    finally:
        worker.stop()
        _purge_anchor_queue()


def _purge_anchor_queue() -> None:
    """Drops anchor tasks left by a run cut short (they would count in this one)."""
    # kombu warns that a filesystem:// URL names no host; nothing is wrong.
    kombu_log = logging.getLogger("kombu.connection")
    level = kombu_log.level
    kombu_log.setLevel(logging.ERROR)
    try:
        with celery_app.connection_for_write() as conn:
            conn.default_channel.queue_declare(queue=ANCHOR_QUEUE, durable=True, auto_delete=False)
            conn.default_channel.queue_purge(ANCHOR_QUEUE)
    finally:
        kombu_log.setLevel(level)
