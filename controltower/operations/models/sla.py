"""Service levels: policies, maintenance windows, period closes, breaches and notifications."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from controltower.operations.choices import (
    NotificationChannel,
    NotificationKind,
    NotificationStatus,
    SlaKind,
    SlaState,
)
from integrations.choices import ExceptionType, FlowKind, Severity
from integrations.crypto import EncryptedTextField


class SlaPolicy(models.Model):
    """A promise with a clock: a flow finishes its work, or an exception is resolved, in time.

    A flow policy measures a transaction from receipt to success (optionally only
    one event type, e.g. contract.signed → project in ERP). An exception policy
    measures an exception from creation to resolution, for a type and/or severity.
    The clock is the owning team's business calendar when ``business_hours`` is set.

    An exception is judged by one policy, the most specific of those that match it when it
    is raised (type over flow over severity, see ``services.sla``); a policy added or
    changed later judges new exceptions, and open ones only when an admin re-judges them.
    """

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=SlaKind.choices)
    flow = models.CharField(max_length=40, choices=FlowKind.choices, blank=True)
    event_type = models.CharField(
        max_length=64, blank=True, help_text="Only this event type of the flow; empty for all."
    )
    exception_type = models.CharField(max_length=40, choices=ExceptionType.choices, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, blank=True)
    target_minutes = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    business_hours = models.BooleanField(
        default=False, help_text="Count only the owning team's working hours."
    )
    at_risk_share = models.DecimalField(
        max_digits=3,
        decimal_places=2,
        default=Decimal("0.75"),
        validators=[MinValueValidator(Decimal("0.05")), MaxValueValidator(Decimal("0.99"))],
        help_text="Share of the target gone when an item is marked at risk.",
    )
    escalate_after_minutes = models.PositiveIntegerField(
        default=240, help_text="After a breach, when the second contact is told."
    )
    team = models.ForeignKey(
        "controltower.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sla_policies",
        help_text="Who is told of a flow breach; empty routes by the ownership rules.",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(
        default=timezone.now, editable=False, help_text="It judges exceptions raised from then on."
    )

    class Meta:
        ordering = ["kind", "name"]
        verbose_name_plural = "SLA policies"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.kind == SlaKind.FLOW and not self.flow:
            raise ValidationError({"flow": "A flow SLA names its flow."})


class MaintenanceWindow(models.Model):
    """A planned stop: alerts are held during it and released after; data keeps flowing."""

    name = models.CharField(max_length=100)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    team = models.ForeignKey(
        "controltower.Team",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="maintenance_windows",
        help_text="Hold only this team's alerts; empty holds everyone's.",
    )
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="maintenance_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.starts_at:%Y-%m-%d %H:%M} to {self.ends_at:%H:%M})"

    def clean(self) -> None:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": "A window must end after it starts."})


class PeriodClose(models.Model):
    """An ERP period-close date: ahead of it, billing breaches escalate sooner."""

    closes_on = models.DateField(unique=True)
    name = models.CharField(max_length=100, blank=True, help_text="For example November 2026.")
    lead_days = models.PositiveSmallIntegerField(
        default=3, help_text="How many days before the close billing breaches escalate at once."
    )

    class Meta:
        ordering = ["closes_on"]

    def __str__(self) -> str:
        return f"{self.name or 'Period close'} {self.closes_on}"


class SlaBreach(models.Model):
    """One item that went past (or close to) its policy's target; recorded once per item."""

    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="breaches")
    state = models.CharField(max_length=20, choices=SlaState.choices, default=SlaState.AT_RISK)
    transaction = models.ForeignKey(
        "integrations.Transaction",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="sla_breaches",
    )
    exception = models.ForeignKey(
        "controltower.BusinessException",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="sla_breaches",
    )
    team = models.ForeignKey(
        "controltower.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(help_text="When the clock started.")
    due_at = models.DateTimeField()
    at_risk_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True, db_index=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    met_at = models.DateTimeField(
        null=True, blank=True, help_text="When the item finished, late or not."
    )

    class Meta:
        ordering = ["-breached_at", "-at_risk_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "transaction"],
                condition=models.Q(transaction__isnull=False),
                name="breach_once_per_transaction",
            ),
            models.UniqueConstraint(
                fields=["policy", "exception"],
                condition=models.Q(exception__isnull=False),
                name="breach_once_per_exception",
            ),
            models.CheckConstraint(
                condition=models.Q(transaction__isnull=False) | models.Q(exception__isnull=False),
                name="breach_names_its_item",
            ),
        ]
        indexes = [models.Index(fields=["state", "met_at"], name="breach_state_open")]

    def __str__(self) -> str:
        item = (
            f"transaction {self.transaction_id}"
            if self.transaction_id
            else (f"exception {self.exception_id}")
        )
        return f"{self.policy}: {item} {self.state}"


class Notification(models.Model):
    """One message to a team about a breach, on one channel; delivery is retried and recorded."""

    breach = models.ForeignKey(
        SlaBreach, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    team = models.ForeignKey(
        "controltower.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    channel = models.CharField(max_length=20, choices=NotificationChannel.choices)
    recipient = models.CharField(
        max_length=500, help_text="An email address, or a webhook URL masked as it is shown."
    )
    webhook_url = EncryptedTextField(
        blank=True, help_text="Where a chat notification is posted; write-only."
    )
    subject = models.CharField(max_length=200)
    body = models.JSONField(default=dict)
    status = models.CharField(
        max_length=20,
        choices=NotificationStatus.choices,
        default=NotificationStatus.PENDING,
        db_index=True,
    )
    attempts_count = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["breach", "kind", "channel", "recipient"],
                condition=models.Q(breach__isnull=False),
                name="notify_once_per_breach_channel",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.recipient} ({self.status})"


class NotificationAttempt(models.Model):
    """One try at delivering a notification."""

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="attempts"
    )
    number = models.PositiveSmallIntegerField()
    at = models.DateTimeField(auto_now_add=True)
    ok = models.BooleanField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["notification", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "number"], name="notification_attempt_number_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.notification_id} #{self.number} {'ok' if self.ok else self.error[:40]}"
