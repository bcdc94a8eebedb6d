from __future__ import annotations

from django.db import models


class RetentionSweep(models.Model):
    """One run of the retention job: finished transactions received before ``cutoff`` left
    the hot tables, with their attempts, after their hours' roll-ups were recounted.

    The latest ``cutoff`` is the roll-ups' floor: hours before it are no longer recounted
    from the rows (``rollups_rebuild`` starts there), because the rows are gone. A
    transaction page asked for an id in ``first_id``..``last_id`` that is no longer there
    says the retention removed it, and where its archive is.
    """

    cutoff = models.DateTimeField(
        help_text="Finished transactions received (and finished) before this moment were removed."
    )
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    first_id = models.BigIntegerField(null=True, blank=True, help_text="Lowest id removed.")
    last_id = models.BigIntegerField(null=True, blank=True, help_text="Highest id removed.")
    removed = models.PositiveIntegerField(default=0, help_text="Transactions removed.")
    attempts_removed = models.PositiveIntegerField(default=0)
    batches = models.PositiveIntegerField(default=0)
    more = models.BooleanField(
        default=False, help_text="The run stopped at its batch limit; the next run goes on."
    )
    archive_dir = models.CharField(
        max_length=500, blank=True, help_text="Where the removed rows were written (JSON Lines)."
    )

    class Meta:
        ordering = ["-cutoff", "-pk"]
        indexes = [models.Index(fields=["first_id", "last_id"], name="retention_ids")]

    def __str__(self) -> str:
        return f"Retention before {self.cutoff:%Y-%m-%d %H:%M}: {self.removed} removed"
