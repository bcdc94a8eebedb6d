from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models

from controltower.choices import (
    EXCEPTION_STATUS_BADGES,
    OPEN_STATUSES,
    SEVERITY_BADGES,
    BulkAction,
    BulkStatus,
    ExceptionStatus,
    ExceptionType,
    Severity,
)
from integrations.choices import FlowKind


class BusinessException(models.Model):
    """A business rule that stopped work, in the business's words, with the money it holds up.

    Transactions blocked by it point at it (``Transaction.exception``). One open
    exception gathers every transaction blocked for the same reason (the same
    missing rate card line, say), so a queue shows one item with its total at risk.
    When the exception waits on missing data (``waiting_on``, e.g.
    ``legal_entity:ZZ99``), the arrival of that data resolves it and re-runs its
    transactions: parked, not failed.
    """

    exception_type = models.CharField(max_length=40, choices=ExceptionType.choices, db_index=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MEDIUM)
    status = models.CharField(
        max_length=20, choices=ExceptionStatus.choices, default=ExceptionStatus.OPEN, db_index=True
    )
    flow = models.CharField(max_length=40, choices=FlowKind.choices, blank=True)
    message = models.TextField()
    details = models.JSONField(default=dict, blank=True)
    waiting_on = models.CharField(
        max_length=200,
        blank=True,
        db_index=True,
        help_text="The missing record whose arrival clears this, e.g. legal_entity:ZZ99.",
    )
    fingerprint = models.CharField(
        max_length=300, help_text="Type, flow and cause: one open exception per fingerprint."
    )
    business_key = models.CharField(max_length=100, blank=True, db_index=True)
    record_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.SET_NULL)
    record_id = models.PositiveBigIntegerField(null=True, blank=True)
    record = GenericForeignKey("record_type", "record_id")
    money_at_risk = models.DecimalField(
        max_digits=16,
        decimal_places=2,
        default=Decimal("0"),
        help_text="Unbilled value or invoice amount held up by this exception.",
    )
    currency = models.CharField(max_length=3, blank=True)
    occurrences = models.PositiveIntegerField(default=1)
    customer = models.ForeignKey(
        "canonical.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Whose work this holds up, where known; ownership rules route on it.",
    )
    legal_entity = models.ForeignKey(
        "canonical.LegalEntity", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
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
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    prepared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who prepared what this exception asks to approve; they cannot approve it.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)

    class Meta:
        ordering = ["-money_at_risk", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["fingerprint"],
                condition=models.Q(status__in=["open", "in_progress"]),
                name="business_exception_one_open_per_fingerprint",
            ),
            models.CheckConstraint(
                condition=models.Q(money_at_risk__gte=0),
                name="business_exception_money_not_negative",
            ),
        ]
        permissions = [
            ("work_businessexception", "Can assign, comment on, snooze, resolve and dismiss"),
            ("approve_businessexception", "Can approve what an exception holds for approval"),
        ]
        indexes = [
            models.Index(fields=["status", "-money_at_risk"], name="bex_status_money"),
            models.Index(fields=["team", "status", "-money_at_risk"], name="bex_team_status_money"),
            models.Index(fields=["assignee", "status"], name="bex_assignee_status"),
            # The unfiltered queue ("every status") sorts by money at risk.
            models.Index(fields=["-money_at_risk", "-id"], name="bex_money"),
        ]

    def __str__(self) -> str:
        return f"{self.get_exception_type_display()}: {self.business_key or self.waiting_on}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def status_badge(self) -> str:
        return EXCEPTION_STATUS_BADGES[ExceptionStatus(self.status)]

    @property
    def severity_badge(self) -> str:
        return SEVERITY_BADGES[Severity(self.severity)]

    @property
    def is_snoozed(self) -> bool:
        from django.utils import timezone

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
    """One action on many exceptions, run in the background, with its progress."""

    action = models.CharField(max_length=20, choices=BulkAction.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    selection = models.JSONField(
        default=dict, help_text="The ids chosen, or the filter whose matches were taken."
    )
    exception_ids = models.JSONField(default=list, help_text="What the selection matched.")
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
