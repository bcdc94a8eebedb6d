from __future__ import annotations

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models

from integrations.choices import SyncOutcome


class SyncState(models.Model):
    """Where one canonical record stands in one connected system.

    Its id there, the last version synced, a hash of the content synced, when,
    and how it went. From it the tower shows freshness per record and system.
    """

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    record = GenericForeignKey("content_type", "object_id")
    system = models.ForeignKey(
        "integrations.ConnectedSystem", on_delete=models.CASCADE, related_name="sync_states"
    )
    external_id = models.CharField(max_length=100, blank=True)
    last_version = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="The canonical version the system holds."
    )
    source_version = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        help_text="The system's own version of the record in the last event it sent: its next "
        "event is judged against this, not against the canonical versions the tower pushes.",
    )
    content_hash = models.CharField(max_length=64, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=SyncOutcome.choices, blank=True)
    last_transaction = models.ForeignKey(
        "integrations.Transaction",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["content_type_id", "object_id", "system_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["content_type", "object_id", "system"], name="sync_state_unique_per_system"
            ),
        ]
        indexes = [models.Index(fields=["system", "external_id"], name="sync_system_external")]

    def __str__(self) -> str:
        return (
            f"{self.content_type.model} {self.object_id} @ {self.system_id}: v{self.last_version}"
        )
