from __future__ import annotations

from django.conf import settings
from django.db import models

from integrations.choices import (
    IMPORT_ROW_OUTCOME_BADGES,
    IMPORT_STATE_BADGES,
    ImportFormat,
    ImportKind,
    ImportRowOutcome,
    ImportState,
)


class ImportJob(models.Model):
    """One batch import of history from a CSV or JSON Lines file.

    Each row becomes the canonical event of its kind, checked by the same schema and
    stored and run as a transaction of ``system`` through the same flows as a live event.
    The file is kept in the row, so a job interrupted (a crash, Ctrl-C) resumes from
    ``cursor``, the number of rows whose transactions are committed: the cursor moves in
    the same database transaction that stores a chunk's transactions.
    """

    kind = models.CharField(max_length=20, choices=ImportKind.choices)
    format = models.CharField(max_length=10, choices=ImportFormat.choices)
    file_name = models.CharField(max_length=255, blank=True)
    content = models.TextField(help_text="The file as uploaded (UTF-8).")
    system = models.ForeignKey(
        "integrations.ConnectedSystem",
        on_delete=models.PROTECT,
        related_name="imports",
        help_text="The system the history comes from: the sender of its transactions.",
    )
    dry_run = models.BooleanField(
        default=False, help_text="Only check and classify the rows; write no canonical data."
    )
    push_downstream = models.BooleanField(
        default=True,
        help_text="Create the records in the ERP and the PSA as live events do. Off: match "
        "the records those systems already hold and record the sync state only.",
    )
    state = models.CharField(max_length=20, choices=ImportState.choices, default=ImportState.QUEUED)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    blocked = models.PositiveIntegerField(default=0)
    cursor = models.PositiveIntegerField(
        default=0, help_text="Rows committed; a resumed job starts after them."
    )
    last_error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Import #{self.pk} ({self.get_kind_display()}, {self.file_name or self.format})"

    @property
    def progress(self) -> int:
        """Percent of the rows done."""
        if not self.rows_total:
            return 100 if self.state == ImportState.DONE else 0
        return min(100, self.rows_done * 100 // self.rows_total)

    @property
    def state_badge(self) -> str:
        return IMPORT_STATE_BADGES[self.state]

    @property
    def finished(self) -> bool:
        return self.state == ImportState.DONE


class ImportRow(models.Model):
    """What one row of an import did (or would do, in a dry run): by row number, with the
    fields that change and, for a refused row, the errors by field and the row as read."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rows")
    number = models.PositiveIntegerField(help_text="1 for the first data row of the file.")
    business_key = models.CharField(max_length=100, blank=True)
    version = models.PositiveBigIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=ImportRowOutcome.choices)
    fields = models.JSONField(default=list, blank=True, help_text="Fields that change.")
    errors = models.JSONField(default=dict, blank=True, help_text="Messages by field.")
    data = models.JSONField(null=True, blank=True, help_text="The row as read (refused rows).")
    transaction = models.ForeignKey(
        "integrations.Transaction",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["job", "number"]
        constraints = [
            models.UniqueConstraint(fields=["job", "number"], name="import_row_once_per_job")
        ]

    def __str__(self) -> str:
        return f"Row {self.number} of import #{self.job_id}: {self.outcome}"

    @property
    def outcome_badge(self) -> str:
        return IMPORT_ROW_OUTCOME_BADGES[self.outcome]

    @property
    def reason(self) -> str:
        return "; ".join(
            f"{field}: {message}" for field, messages in self.errors.items() for message in messages
        )
