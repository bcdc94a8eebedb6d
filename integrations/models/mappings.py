from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from integrations.choices import MappingStatus


class FieldMapping(models.Model):
    """One version of how a system's records of one type map to canonical fields.

    A system starts on its dialect's default mapping (version 0, in the code). An admin
    writes a draft, tries it on sample or received payloads, and publishes it: the draft
    becomes the published version, the one before it is retired, and work parked for a
    value the old mapping could not give runs again. Versions are kept, never edited once
    published, so that every transaction names the mapping that read it.
    """

    system = models.ForeignKey(
        "integrations.ConnectedSystem", on_delete=models.CASCADE, related_name="mappings"
    )
    record_type = models.CharField(max_length=30, help_text="contract, time_entry, resource")
    version = models.PositiveIntegerField()
    status = models.CharField(
        max_length=10, choices=MappingStatus.choices, default=MappingStatus.DRAFT
    )
    document = models.JSONField(help_text='{"when": [...], "fields": [...]}')
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["system", "record_type", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["system", "record_type", "version"], name="mapping_version_unique"
            ),
            models.UniqueConstraint(
                fields=["system", "record_type"],
                condition=Q(status="published"),
                name="mapping_one_published",
            ),
            models.UniqueConstraint(
                fields=["system", "record_type"],
                condition=Q(status="draft"),
                name="mapping_one_draft",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.system_id} {self.record_type} v{self.version} ({self.status})"
