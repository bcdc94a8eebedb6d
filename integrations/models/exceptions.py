from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models

from integrations.choices import (
    EXCEPTION_STATUS_BADGES,
    OPEN_STATUSES,
    SEVERITY_BADGES,
    ExceptionStatus,
    ExceptionType,
    FlowKind,
    Severity,
)


class ExceptionRecord(models.Model):
    """A business exception as the engine records it: the rule that stopped work, in the
    business's words, the record it is about, the money it holds up, and whether it still
    holds work.

    Transactions blocked by it point at it (``Transaction.exception``). One open record
    gathers every transaction blocked for the same cause (its ``fingerprint``: the same
    missing rate card line, say), so a queue shows one item with its total at risk. When
    it waits on missing data (``waiting_on``, e.g. ``legal_entity:ZZ99``), the arrival of
    that data closes it and re-runs its transactions: parked, not failed.

    The operations layer works it as a ``controltower.BusinessException``, which extends
    this record with its owning team, assignee, snooze and SLA.
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
    money_note = models.TextField(
        blank=True,
        help_text="How the money at risk was estimated (integrations.services.money_at_risk).",
    )
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
        indexes = [
            models.Index(fields=["status", "-money_at_risk"], name="bex_status_money"),
            # The unfiltered queue ("every status") sorts by money at risk.
            models.Index(fields=["-money_at_risk", "-id"], name="bex_money"),
            # The open queue by money at risk reads only open rows, however many are closed.
            models.Index(
                fields=["-money_at_risk", "-id"],
                condition=models.Q(status__in=["open", "in_progress"]),
                name="bex_open_money",
            ),
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
    def approved(self) -> bool:
        """Whether a person approved what this held (an amendment conflict, an edited replay)."""
        return self.status == ExceptionStatus.RESOLVED and bool(
            (self.details or {}).get("approved")
        )
