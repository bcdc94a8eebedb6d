from __future__ import annotations

from django.db import models

from integrations.choices import RollupSpan


def finished_count(*, succeeded: int, dead: int, blocked: int, recovered: int) -> int:
    """Successes and the stops that still stand: a stop that a re-run made good counts once,
    as the success it became. Its re-run may be counted where the stop is not (another
    bucket or window): never fewer than the successes."""
    return max(succeeded + dead + blocked - recovered, succeeded)


class FlowRollup(models.Model):
    """What one flow did in one minute or one hour: the overview reads these, not the history.

    The engine adds to the row of the current bucket as transactions arrive and
    finish (``integrations.services.rollups``), so a chart of the last day reads 24
    rows per flow however many transactions the tower has ever run. Outcomes are
    counted in the bucket of the attempt that produced them; ``rollups_rebuild``
    recomputes any period from the transactions and their attempts.
    """

    flow = models.ForeignKey(
        "integrations.Flow",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # the unique (span, bucket, flow) index serves every read
    )
    span = models.PositiveIntegerField(choices=RollupSpan.choices)
    bucket = models.DateTimeField(help_text="Start of the minute or hour, in UTC.")
    received = models.PositiveIntegerField(default=0, help_text="Transactions that arrived.")
    succeeded = models.PositiveIntegerField(default=0)
    retried = models.PositiveIntegerField(
        default=0, help_text="Attempts that failed for a passing reason and were scheduled again."
    )
    dead = models.PositiveIntegerField(
        default=0, help_text="Transactions that used their last attempt (dead letters)."
    )
    blocked = models.PositiveIntegerField(
        default=0, help_text="Transactions a business rule stopped (each with an exception)."
    )
    recovered = models.PositiveIntegerField(
        default=0,
        help_text="Earlier stops (dead or blocked) of transactions that succeeded here after a "
        "re-run: they no longer stand.",
    )
    ignored = models.PositiveIntegerField(
        default=0, help_text="Events that arrived and that a rule ignored (stored, not run)."
    )
    latency_us = models.PositiveBigIntegerField(
        default=0,
        help_text="Sum of the received-to-succeeded times of the succeeded, in microseconds.",
    )

    class Meta:
        ordering = ["span", "bucket", "flow_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["span", "bucket", "flow"], name="flow_rollup_once_per_bucket"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.flow_id} {self.get_span_display().lower()} {self.bucket:%Y-%m-%d %H:%M}"

    @property
    def finished(self) -> int:
        return finished_count(
            succeeded=self.succeeded, dead=self.dead, blocked=self.blocked, recovered=self.recovered
        )

    @property
    def success_rate(self) -> float | None:
        """Share of the finished that succeeded; None when nothing finished."""
        return self.succeeded / self.finished if self.finished else None

    @property
    def average_latency_ms(self) -> float | None:
        return self.latency_us / self.succeeded / 1000 if self.succeeded else None
