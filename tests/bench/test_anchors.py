"""The anchors of the ingest case: measured on the real database and broker, and carried
into the summary and the JSON line as ratios."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from bench.anchors import Anchors, anchors_measure
from bench.ingest import BenchOptions, BenchResult, SendResult
from integrations.models import Transaction


@pytest.mark.django_db
def test_the_anchors_measure_inserts_and_empty_tasks_on_the_real_services(demo):
    before = Transaction.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    lines: list[str] = []

    anchors = anchors_measure(
        insert_rows=1_000, tasks=30, concurrency=2, system="crm", report=lines.append
    )

    assert anchors.insert_rows_per_s > 0 and anchors.empty_tasks_per_s > 0
    assert (anchors.insert_rows, anchors.tasks) == (1_000, 30)
    # The rows were inserted (the ids moved on by as many) and are gone again.
    assert not Transaction.objects.filter(idempotency_key__startswith="anchor-").exists()
    after = Transaction.objects.create(correlation_id="after-the-anchor").pk
    assert after > before + 1_000
    assert lines[0].startswith("Anchor (A)") and lines[1].startswith("Anchor (B)")


def test_the_summary_and_the_json_line_give_each_figure_as_a_ratio_to_its_anchor():
    anchors = Anchors(
        insert_rows=10_000, insert_seconds=2.0, tasks=2_000, tasks_seconds=4.0, concurrency=2
    )
    sent = SendResult(accepted=20_000, first_send=0.0, last_response=20.0, latencies=[0.5])
    result = BenchResult(
        options=BenchOptions(),
        run_id="bench-test",
        sent=sent,
        processed_seconds=20.0,
        states=Counter({"succeeded": 20_000}),
        database="postgresql",
        broker="redis",
        chunk_size=100,
        anchors=anchors,
    )

    figures = json.loads(result.as_json())

    assert figures["anchor_insert_rows_per_s"] == 5_000.0
    assert figures["anchor_empty_tasks_per_s"] == 500.0
    assert figures["accepted_ratio"] == 0.2  # 1,000 accepted/s against 5,000 rows/s
    assert figures["processed_ratio"] == 2.0  # 1,000 processed/s against 500 tasks/s
    summary = "\n".join(result.summary_lines())
    assert "accepted ratio   0.200 A (target >= 0.15 A: met)" in summary
    assert "processed ratio  2.00 B (target >= 2.0 B: met)" in summary
