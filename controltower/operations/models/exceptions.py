from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from controltower.operations.choices import BulkAction, BulkStatus
from integrations.models import ExceptionRecord


class BusinessException(ExceptionRecord):
    """A business exception as the operations layer works it: the engine's record (what
    stopped, the money it holds up, whether it still holds work) with its owning team,
    the person working it, a snooze and the time it is due by.

    The engine raises the record; the operations layer opens this extension of it at
    once (``controltower.operations.services.exceptions.exception_case_open``), so a new exception
    lands in its team's queue with its SLA due time.
    """

    team = models.ForeignKey(
        "controltower.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="exceptions",
        help_text="The owning team, from the ownership rules.",
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_exceptions",
    )
    snoozed_until = models.DateTimeField(
        null=True, blank=True, help_text="Held out of the queue until then; not lost."
    )
    sla_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    sla_policy = models.ForeignKey(
        "controltower.SlaPolicy",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="judged_exceptions",
        help_text="The one policy that times it: the most specific when it was raised.",
    )

    class Meta:
        ordering = ["-money_at_risk", "-created_at"]
        permissions = [
            ("work_businessexception", "Can assign, comment on, snooze, resolve and dismiss"),
            ("approve_businessexception", "Can approve what an exception holds for approval"),
        ]

    @property
    def is_snoozed(self) -> bool:
        return self.snoozed_until is not None and self.snoozed_until > timezone.now()


class ExceptionComment(models.Model):
    """A note on an exception from the person working it."""

    exception = models.ForeignKey(
        BusinessException, on_delete=models.CASCADE, related_name="comments"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.author}: {self.body[:40]}"


class BulkOperation(models.Model):
    """One action on many exceptions, run in the background, with its progress; or a bulk
    retry of transactions, requeued at once, whose progress is the workers running them."""

    action = models.CharField(max_length=20, choices=BulkAction.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    selection = models.JSONField(
        default=dict, help_text="The ids chosen, or the filter whose matches were taken."
    )
    exception_ids = models.JSONField(default=list, help_text="What the selection matched.")
    transaction_ids = models.JSONField(
        default=list, blank=True, help_text="A bulk retry's transactions, in id order."
    )
    params = models.JSONField(default=dict, blank=True, help_text="Assignee, team, reason.")
    status = models.CharField(max_length=20, choices=BulkStatus.choices, default=BulkStatus.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="Items refused, with why.")
    created_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="When the worker running it last saved progress."
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} of {self.total} ({self.status})"

    @property
    def progress(self) -> int:
        return 100 if not self.total else round(100 * (self.done + self.failed) / self.total)
