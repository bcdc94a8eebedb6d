from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q

from canonical.choices import INVOICE_STATUS_BADGES, InvoiceStatus
from canonical.classification import DataClass, Spec
from canonical.models.base import CanonicalRecord, currency_field


class Invoice(CanonicalRecord):
    """A bill for one project and period, from candidate through approval to posted and paid."""

    number = models.CharField(max_length=40, unique=True, help_text="Business key, e.g. INV-3001.")
    project = models.ForeignKey(
        "canonical.Project", on_delete=models.PROTECT, related_name="invoices"
    )
    customer = models.ForeignKey(
        "canonical.Customer", on_delete=models.PROTECT, related_name="invoices"
    )
    legal_entity = models.ForeignKey(
        "canonical.LegalEntity", on_delete=models.PROTECT, related_name="invoices"
    )
    period_start = models.DateField()
    period_end = models.DateField()
    currency = currency_field()
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    status = models.CharField(
        max_length=20, choices=InvoiceStatus.choices, default=InvoiceStatus.CANDIDATE
    )
    erp_number = models.CharField(
        max_length=40, blank=True, help_text="The ERP's document number once posted."
    )
    prepared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    posted_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    data_classes: ClassVar[Spec] = {"amount": DataClass.PRICING}

    class Meta:
        ordering = ["number"]
        permissions = [("approve_invoice", "Can approve or reject invoice candidates")]
        indexes = [
            # The overview's invoice figures (unbilled, awaiting approval, posted lately)
            # read by status and posting time, not the whole table.
            models.Index(fields=["status", "posted_at"], name="invoice_status_posted"),
        ]
        constraints = [
            # One open candidate per project and period; a rejected one leaves room for a
            # new one, and late time after approval goes on a supplementary candidate.
            models.UniqueConstraint(
                fields=["project", "period_start", "period_end"],
                condition=Q(status__in=[InvoiceStatus.CANDIDATE, InvoiceStatus.AWAITING_APPROVAL]),
                name="canonical_invoice_one_open_per_project_period",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def status_badge(self) -> str:
        return INVOICE_STATUS_BADGES.get(self.status, "secondary")


class InvoiceLine(models.Model):
    """One billed item of an invoice: hours of a time entry, a milestone amount, a monthly
    fee or a rebilled expense."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    time_entry = models.ForeignKey(
        "canonical.TimeEntry",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoice_lines",
    )
    milestone = models.ForeignKey(
        "canonical.BillingMilestone",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoice_lines",
    )
    expense_line = models.ForeignKey(
        "canonical.ExpenseLine",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoice_lines",
    )
    description = models.CharField(max_length=255)
    quantity = models.DecimalField(max_digits=10, decimal_places=2)
    rate = models.DecimalField(max_digits=12, decimal_places=2)
    amount = models.DecimalField(max_digits=14, decimal_places=2)

    data_classes: ClassVar[Spec] = {
        "rate": DataClass.PRICING,
        "amount": DataClass.PRICING,
        # A time line names the person who worked ("2026-01-05 Ada Byron (Architect)").
        "description": DataClass.PERSONAL,
    }

    class Meta:
        ordering = ["invoice_id", "id"]

    def __str__(self) -> str:
        return self.description
