from __future__ import annotations

from datetime import datetime, timedelta

from django.db import models
from django.utils import timezone

from integrations.choices import PollerRecordType, PollerRunOutcome


class Poller(models.Model):
    """A scheduled incremental pull of one record type from a system that sends no webhooks.

    Each run asks the system for the records changed since ``cursor`` minus the overlap
    window, page by page, and stores each as an inbound event through the webhook's own
    door (same idempotency key: the vendor's id and ``updated_at``), so a record read twice
    is one transaction. The cursor is the latest ``updated_at`` stored; a failed run leaves
    it where it was and says why in ``last_error``.
    """

    system = models.ForeignKey(
        "integrations.ConnectedSystem", on_delete=models.CASCADE, related_name="pollers"
    )
    record_type = models.CharField(max_length=20, choices=PollerRecordType.choices)
    enabled = models.BooleanField(
        default=False, help_text="Beat runs an enabled poller every interval."
    )
    interval_seconds = models.PositiveIntegerField(
        default=300, help_text="How often beat runs it (seconds)."
    )
    overlap_seconds = models.PositiveIntegerField(
        default=300,
        help_text="Each run reads again what changed this long before the cursor, for records "
        "whose change the system recorded late. Records read again are duplicates, not new "
        "transactions.",
    )
    page_size = models.PositiveIntegerField(
        default=100, help_text="Records asked for per call (1 to 1000)."
    )
    cursor = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The latest change stored (the system's updated_at); empty: read everything.",
    )
    running_since = models.DateTimeField(
        null=True, blank=True, help_text="Set while a run holds the poller."
    )
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_outcome = models.CharField(
        max_length=10, choices=PollerRunOutcome.choices, default=PollerRunOutcome.NEVER
    )
    last_error = models.TextField(blank=True)
    last_received = models.PositiveIntegerField(
        default=0, help_text="Records the last run read (duplicates included)."
    )
    last_stored = models.PositiveIntegerField(
        default=0, help_text="New transactions the last run stored."
    )
    last_pages = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["system__slug", "record_type"]
        constraints = [
            models.UniqueConstraint(fields=["system", "record_type"], name="poller_one_per_type"),
            models.CheckConstraint(
                condition=models.Q(interval_seconds__gte=10), name="poller_interval_at_least_10s"
            ),
            models.CheckConstraint(
                condition=models.Q(page_size__gte=1) & models.Q(page_size__lte=1000),
                name="poller_page_size_1_to_1000",
            ),
        ]
        permissions = [("run_poller", "Can run a poller now")]

    def __str__(self) -> str:
        return f"{self.system.slug} {self.get_record_type_display().lower()} poller"

    def lag(self, now: datetime | None = None) -> timedelta | None:
        """How far behind the system the tower is: now minus the cursor."""
        if self.cursor is None:
            return None
        return (now or timezone.now()) - self.cursor

    def is_due(self, now: datetime | None = None) -> bool:
        if not self.enabled:
            return False
        if self.last_started_at is None:
            return True
        return self.last_started_at + timedelta(seconds=self.interval_seconds) <= (
            now or timezone.now()
        )
