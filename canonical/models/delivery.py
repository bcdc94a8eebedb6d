from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models import Q

from canonical.choices import (
    PROJECT_STATUS_BADGES,
    TIME_ENTRY_STATUS_BADGES,
    ProjectStatus,
    TimeEntryStatus,
)
from canonical.classification import DataClass, Spec
from canonical.models.base import CanonicalRecord


class Project(CanonicalRecord):
    """Delivery work for a customer, usually opened from a signed contract."""

    code = models.CharField(max_length=40, unique=True, help_text="Business key, e.g. P-1042.")
    name = models.CharField(max_length=200)
    contract = models.ForeignKey(
        "canonical.Contract",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="projects",
        help_text="Empty for internal or pre-sales work.",
    )
    customer = models.ForeignKey(
        "canonical.Customer", on_delete=models.PROTECT, related_name="projects"
    )
    legal_entity = models.ForeignKey(
        "canonical.LegalEntity", on_delete=models.PROTECT, related_name="projects"
    )
    status = models.CharField(
        max_length=20, choices=ProjectStatus.choices, default=ProjectStatus.PLANNED
    )
    billable = models.BooleanField(default=True)
    billing_hold = models.BooleanField(
        default=False, help_text="While set, no invoice candidate is made for this project."
    )
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    closed_on = models.DateField(
        null=True,
        blank=True,
        help_text="While closed: the last day whose time is still billed (the end date its "
        "closure gave, else the day it closed).",
    )
    role_skills = models.JSONField(
        default=dict,
        blank=True,
        help_text="The skills each role on the project requires (role -> skills, lower case), "
        "from its signed contract.",
    )

    class Meta:
        ordering = ["code"]
        indexes = [models.Index(fields=["status"], name="canonical_project_status")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def status_badge(self) -> str:
        return PROJECT_STATUS_BADGES.get(self.status, "secondary")


class Assignment(CanonicalRecord):
    """A consultant staffed on a project for a period, as planned in the PSA."""

    number = models.CharField(max_length=40, unique=True, help_text="The PSA's assignment key.")
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="assignments")
    resource = models.ForeignKey(
        "canonical.Resource", on_delete=models.PROTECT, related_name="assignments"
    )
    role = models.CharField(max_length=100)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    allocation_percent = models.PositiveSmallIntegerField(
        default=100, help_text="Share of the consultant's time, 0 to 100."
    )
    bill_rate = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Overrides the rate card's rate for the role; empty to use the rate card.",
    )

    data_classes: ClassVar[Spec] = {"bill_rate": DataClass.PRICING}

    class Meta:
        ordering = ["number"]
        indexes = [
            models.Index(fields=["project", "resource"], name="canonical_assignment_proj_res"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(allocation_percent__gte=0) & Q(allocation_percent__lte=100),
                name="canonical_assignment_allocation_0_100",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class TimeEntry(CanonicalRecord):
    """Hours a consultant worked on a project on one day, as captured by the time system."""

    number = models.CharField(max_length=40, unique=True, help_text="The source's entry id.")
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="time_entries")
    resource = models.ForeignKey(
        "canonical.Resource", on_delete=models.PROTECT, related_name="time_entries"
    )
    assignment = models.ForeignKey(
        Assignment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="time_entries",
    )
    work_date = models.DateField()
    hours = models.DecimalField(
        max_digits=6, decimal_places=2, help_text="More than 0, at most 24."
    )
    billable = models.BooleanField(default=True)
    retainer_hours = models.DecimalField(
        max_digits=6,
        decimal_places=2,
        default=0,
        help_text="Of these hours, those drawn from the contract's retainer (covered by its "
        "monthly fee); the rest are billed at the rate.",
    )
    credited_hours = models.DecimalField(
        max_digits=6,
        decimal_places=2,
        default=0,
        help_text="Hours once billed on an invoice past approval and since withdrawn or "
        "reduced at the source: handed back by a credit note, never taken off that invoice.",
    )
    status = models.CharField(
        max_length=20, choices=TimeEntryStatus.choices, default=TimeEntryStatus.SUBMITTED
    )
    cost_rate = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="The resource's hourly cost (from the HRIS) when the time was approved; "
        "empty while the resource has none.",
    )
    cost = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Hours times the cost rate; empty while the resource has no cost rate.",
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    invoice = models.ForeignKey(
        "canonical.Invoice",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="time_entries",
        help_text="The invoice that billed these hours.",
    )

    data_classes: ClassVar[Spec] = {"cost_rate": DataClass.PRICING, "cost": DataClass.PRICING}

    class Meta:
        ordering = ["number"]
        verbose_name_plural = "time entries"
        indexes = [
            models.Index(
                fields=["project", "status", "work_date"], name="canonical_time_proj_stat_date"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(hours__gt=0) & Q(hours__lte=24), name="canonical_timeentry_hours_0_24"
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def status_badge(self) -> str:
        return TIME_ENTRY_STATUS_BADGES.get(self.status, "secondary")
