from __future__ import annotations

from django.db import models


class InboundBucket(models.Model):
    """The inbound requests a system may still send now: a token bucket per system.

    Filled at the system's ``inbound_requests_per_minute``; each request takes a token
    before it is read. With Redis the bucket lives there (one script, atomic across every
    web process); this row is the bucket of the embedded mode.
    """

    system = models.OneToOneField(
        "integrations.ConnectedSystem", on_delete=models.CASCADE, related_name="inbound_bucket"
    )
    tokens = models.FloatField(default=0)
    refilled_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.system_id}: {self.tokens:.1f} inbound tokens"
