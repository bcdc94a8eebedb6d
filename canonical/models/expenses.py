from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models import Q

from canonical.classification import DataClass, Spec
from canonical.models.base import CanonicalRecord, currency_field


class ExpenseReport(CanonicalRecord):
    """A consultant's approved expense report on a project, as the PSA sends it."""

    number = models.CharField(max_length=40, unique=True, help_text="The PSA's report key.")
    project = models.ForeignKey(
        "canonical.Project", on_delete=models.PROTECT, related_name="expense_reports"
    )
    resource = models.ForeignKey(
        "canonical.Resource", on_delete=models.PROTECT, related_name="expense_reports"
    )
    currency = currency_field()
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return self.number


class ExpenseLine(models.Model):
    """One cost of an expense report: what it was, what it cost, and what the customer is
    billed for it (``billed_amount``, in the contract's currency, markup included)."""

    report = models.ForeignKey(ExpenseReport, on_delete=models.CASCADE, related_name="lines")
    line_number = models.PositiveIntegerField(help_text="The line's place on its report, from 1.")
    category = models.CharField(
        max_length=40, help_text="Lower case, e.g. travel, lodging, meals, mileage."
    )
    amount = models.DecimalField(
        max_digits=14, decimal_places=2, help_text="As spent, in the line's currency."
    )
    currency = currency_field()
    exchange_rate = models.DecimalField(
        max_digits=16,
        decimal_places=8,
        null=True,
        blank=True,
        help_text="Units of the contract's currency for one unit of the line's; empty where "
        "both are the same.",
    )
    receipt_reference = models.CharField(max_length=100, blank=True)
    billable = models.BooleanField(default=True)
    incurred_on = models.DateField()
    description = models.CharField(max_length=255, blank=True)
    billed_amount = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="What the customer is billed, in the contract's currency; empty for a "
        "non-billable line.",
    )

    data_classes: ClassVar[Spec] = {
        "amount": DataClass.PRICING,
        "exchange_rate": DataClass.PRICING,
        "billed_amount": DataClass.PRICING,
    }

    class Meta:
        ordering = ["report_id", "line_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["report", "line_number"], name="canonical_expenseline_unique_number"
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0), name="canonical_expenseline_amount_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.report_id} line {self.line_number}"

    @property
    def label(self) -> str:
        """How a message names the line: ``EXP-1 line 2 (travel)``."""
        return f"{self.report.number} line {self.line_number} ({self.category})"
