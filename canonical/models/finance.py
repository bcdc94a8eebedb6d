from __future__ import annotations

from typing import ClassVar

from django.db import models

from canonical.choices import REVENUE_STATUS_BADGES, RevenueMethod, RevenueStatus
from canonical.classification import DataClass, Spec
from canonical.models.base import CanonicalRecord, currency_field


class ProjectCost(CanonicalRecord):
    """A project's cost for one month: its approved hours (billable or not) at the cost
    rates of the people who worked them, as the tower posts it to the ERP.

    Its version grows whenever the month's hours or cost change, so that the ERP's copy
    is brought up to date once per change and never again for the same figures.
    """

    project = models.ForeignKey("canonical.Project", on_delete=models.PROTECT, related_name="costs")
    period_start = models.DateField(help_text="The first day of the month.")
    currency = currency_field()
    hours = models.DecimalField(max_digits=10, decimal_places=2, help_text="Approved hours.")
    amount = models.DecimalField(
        max_digits=14, decimal_places=2, help_text="Hours times cost rate, where known."
    )
    uncosted_hours = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        default=0,
        help_text="Hours of people without a cost rate: not in the amount.",
    )

    data_classes: ClassVar[Spec] = {
        "amount": DataClass.PRICING,
        "uncosted_hours": DataClass.PRICING,
    }

    class Meta:
        ordering = ["project_id", "period_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "period_start"], name="canonical_projectcost_one_per_month"
            ),
        ]

    def __str__(self) -> str:
        return self.external_id

    @property
    def external_id(self) -> str:
        """The key of its journal entry in the ERP."""
        return f"COST-{self.project.code}-{self.period_start:%Y%m}"


class RevenueSchedule(CanonicalRecord):
    """A contract's revenue plan: what it recognises each month and how (its lines), as
    the tower pushes it to the ERP. Its version grows whenever a line changes."""

    contract = models.OneToOneField(
        "canonical.Contract", on_delete=models.CASCADE, related_name="revenue_schedule"
    )
    project = models.ForeignKey(
        "canonical.Project",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="revenue_schedules",
        help_text="The project whose margin the revenue counts in (the contract's first).",
    )
    currency = currency_field()
    total = models.DecimalField(max_digits=14, decimal_places=2)

    data_classes: ClassVar[Spec] = {"total": DataClass.PRICING}

    class Meta:
        ordering = ["contract_id"]

    def __str__(self) -> str:
        return self.external_id

    @property
    def external_id(self) -> str:
        """The key of its revenue plan in the ERP."""
        return f"REV-{self.contract.number}"


class RevenueScheduleLine(models.Model):
    """One month's revenue of a schedule by one method: recognised, or still planned."""

    schedule = models.ForeignKey(RevenueSchedule, on_delete=models.CASCADE, related_name="lines")
    period_start = models.DateField(help_text="The first day of the month.")
    method = models.CharField(max_length=20, choices=RevenueMethod.choices)
    status = models.CharField(max_length=20, choices=RevenueStatus.choices)
    amount = models.DecimalField(max_digits=14, decimal_places=2)

    data_classes: ClassVar[Spec] = {"amount": DataClass.PRICING}

    class Meta:
        ordering = ["schedule_id", "period_start", "method", "status"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "period_start", "method", "status"],
                name="canonical_revenueline_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.period_start:%Y-%m} {self.method} {self.status}"

    @property
    def status_badge(self) -> str:
        return REVENUE_STATUS_BADGES.get(self.status, "secondary")
