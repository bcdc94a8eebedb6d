"""SQL statements per chunk: one chunk of the case's events processed in this process under
``CaptureQueriesContext``, after the run (the bench's worker is stopped by then, so the
chunk is nobody else's to claim)."""

from __future__ import annotations

import json

from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench.ingest_events import CASES, signing_secret
from integrations.services.inbound import inbound_receive
from integrations.services.processing import transactions_process
from integrations.services.queueing import chunk_size_for
from integrations.signatures import HEADER, sign

# The cases whose flow has a set-based path, whose statements per chunk are the figure.
MEASURED = ("time_to_billing",)


def chunk_statements(*, case: str, run_id: str, first: int, size: int) -> tuple[int, int]:
    """Stores ``size`` more of the run's events (numbered from ``first``) and processes them
    as one chunk; the statements that took and how many succeeded."""
    system, make = CASES[case]
    body = json.dumps([make(run_id, i) for i in range(first, first + size)]).encode()
    stored = inbound_receive(
        system_slug=system,
        headers={HEADER: sign(signing_secret(system), body)},
        body=body,
        content_length=len(body),
    )
    with CaptureQueriesContext(connection) as queries:
        summary = transactions_process(ids=list(stored.transaction_ids.values()))
    return len(queries), summary.succeeded


def statement_notes(*, case: str, run_id: str, events: int) -> list[str]:
    """The summary's note on the statements one chunk of this case costs, if it is measured."""
    if case not in MEASURED:
        return []
    _, make = CASES[case]
    size = chunk_size_for(make(run_id, 0)["type"])
    statements, succeeded = chunk_statements(case=case, run_id=run_id, first=events, size=size)
    return [
        f"SQL statements per chunk: {statements} for a chunk of {size} events (the tower's "
        "chunk for this event type) "
        f"({succeeded} succeeded), claimed, applied and recorded in process after the run"
    ]
