from __future__ import annotations

from django.db import models
from django.utils import timezone

from integrations.choices import ProcessRole


class ProcessHeartbeat(models.Model):
    """The last sign of life of one process of the tower: a web server, a worker or beat.

    A worker's heartbeat is written from inside its pool by a task sent to a queue that only
    that worker consumes, so a fresh one proves that the worker *runs tasks*, not merely that
    its main process exists. Beat writes its own from its scheduler loop, a web server from
    its event loop. ``started_at`` is when the current incarnation started; ``beat_at`` is
    the last proof of work, empty while a process that has just started has not proved any.
    """

    role = models.CharField(max_length=10, choices=ProcessRole.choices)
    name = models.CharField(
        max_length=200,
        unique=True,
        help_text="The process: a worker's Celery node name, beat's or a web server's host:pid.",
    )
    started_at = models.DateTimeField(
        default=timezone.now, help_text="When the process now running under this name started."
    )
    beat_at = models.DateTimeField(
        null=True, blank=True, help_text="The last heartbeat: when it last proved it works."
    )
    details = models.JSONField(
        default=dict,
        blank=True,
        help_text="What the process says of itself: host, pid, queues, restarts, lag.",
    )

    class Meta:
        ordering = ["role", "name"]
        indexes = [models.Index(fields=["role", "beat_at"], name="heartbeat_role_beat")]

    def __str__(self) -> str:
        return self.name

    def is_fresh(self, *, limit_seconds: float, now=None) -> bool:
        """Whether the last heartbeat is younger than ``limit_seconds``."""
        now = now or timezone.now()
        return self.beat_at is not None and (now - self.beat_at).total_seconds() < limit_seconds
