from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from django.apps import apps
from django.db import models
from django.db.models import F, Q, Sum

from canonical.choices import (
    BILLING_MODEL_BADGES,
    CONTRACT_STATUS_BADGES,
    HOURLY_BILLING_MODELS,
    MILESTONE_STATUS_BADGES,
    MONTHLY_FEE_MODELS,
    BillingModel,
    ContractStatus,
    InvoiceStatus,
    MilestoneStatus,
)
from canonical.classification import DataClass, Spec
from canonical.errors import ImmutableRecordError
from canonical.models.base import CanonicalRecord, currency_field


class RateCard(CanonicalRecord):
    """A price list: the hourly rate billed for each role."""

    code = models.CharField(max_length=40, unique=True, help_text="Business key, e.g. RC-STD-US.")
    name = models.CharField(max_length=200)
    currency = currency_field()
    legal_entity = models.ForeignKey(
        "canonical.LegalEntity",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="rate_cards",
        help_text="Empty for a rate card every group company may use.",
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class RateCardLine(models.Model):
    """The hourly rate of one role on one rate card."""

    rate_card = models.ForeignKey(RateCard, on_delete=models.CASCADE, related_name="lines")
    role = models.CharField(max_length=100)
    rate = models.DecimalField(max_digits=12, decimal_places=2, help_text="Hourly bill rate.")

    data_classes: ClassVar[Spec] = {"rate": DataClass.PRICING}

    class Meta:
        ordering = ["rate_card_id", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["rate_card", "role"], name="canonical_ratecardline_unique_role"
            ),
            models.CheckConstraint(
                condition=Q(rate__gte=0), name="canonical_ratecardline_rate_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} {self.rate}"


class Contract(CanonicalRecord):
    """A signed (or to-be-signed) agreement with a customer, as held by the CLM."""

    number = models.CharField(max_length=40, unique=True, help_text="Business key, e.g. K-5001.")
    customer = models.ForeignKey(
        "canonical.Customer", on_delete=models.PROTECT, related_name="contracts"
    )
    legal_entity = models.ForeignKey(
        "canonical.LegalEntity", on_delete=models.PROTECT, related_name="contracts"
    )
    rate_card = models.ForeignKey(
        RateCard, on_delete=models.PROTECT, null=True, blank=True, related_name="contracts"
    )
    billing_model = models.CharField(
        max_length=20, choices=BillingModel.choices, default=BillingModel.TIME_AND_MATERIALS
    )
    currency = currency_field()
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True, help_text="Empty for open-ended.")
    cap_amount = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Most that may be billed over the contract; empty for no cap.",
    )
    monthly_fee = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Invoiced in advance for each month: a retainer's or a managed service's fee.",
    )
    included_hours = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Hours a retainer's monthly fee covers; hours past them are billed at the rate.",
    )
    unused_hours_roll_over = models.BooleanField(
        default=False,
        help_text="A retainer's unused hours carry into the next month; otherwise they lapse.",
    )
    tax_code = models.CharField(
        max_length=40, blank=True, help_text="Overrides the customer's tax code when set."
    )
    payment_terms = models.CharField(
        max_length=40, blank=True, help_text="Overrides the customer's payment terms when set."
    )
    expense_categories = models.JSONField(
        default=list,
        blank=True,
        help_text="Expense categories the customer may be rebilled for (lower case); empty: "
        "no expense is rebillable.",
    )
    expense_markup_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=0,
        help_text="Added to a rebilled expense, e.g. 10 for 10 %.",
    )
    status = models.CharField(
        max_length=20, choices=ContractStatus.choices, default=ContractStatus.DRAFT
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    correlation_id = models.CharField(
        max_length=64,
        blank=True,
        db_index=True,
        help_text="Links the transactions of every flow this contract started.",
    )

    data_classes: ClassVar[Spec] = {
        "cap_amount": DataClass.PRICING,
        "monthly_fee": DataClass.PRICING,
        "expense_markup_percent": DataClass.PRICING,
        # Read beside the cap: billed so far, and what is left.
        "billed_amount": DataClass.PRICING,
        "cap_remaining": DataClass.PRICING,
    }

    class Meta:
        ordering = ["number"]
        permissions = [("see_pricing", "Can see pricing: rates and amounts")]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="canonical_contract_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def status_badge(self) -> str:
        return CONTRACT_STATUS_BADGES.get(self.status, "secondary")

    @property
    def billing_model_badge(self) -> str:
        return BILLING_MODEL_BADGES.get(self.billing_model, "secondary")

    @property
    def billed_amount(self) -> Decimal:
        """What the contract's invoices bill, rejected ones aside: annotated by
        ``canonical.selectors.contract_list`` for a list, else summed when asked."""
        if "_billed_amount" in self.__dict__:
            return self._billed_amount
        lines = apps.get_model("canonical", "InvoiceLine").objects.filter(
            invoice__project__contract=self
        )
        billed = lines.exclude(invoice__status=InvoiceStatus.REJECTED).aggregate(
            total=Sum("amount")
        )["total"]
        return billed or Decimal("0")

    @billed_amount.setter
    def billed_amount(self, value: Decimal) -> None:
        self._billed_amount = value

    @property
    def cap_remaining(self) -> Decimal | None:
        """What may still be billed under the cap; None for a contract without one."""
        if self.cap_amount is None:
            return None
        return max(Decimal("0"), self.cap_amount - self.billed_amount)

    @property
    def bills_time(self) -> bool:
        """Approved time is billed by the hour (on a retainer, past its included hours)."""
        return self.billing_model in HOURLY_BILLING_MODELS

    @property
    def has_monthly_fee(self) -> bool:
        return self.billing_model in MONTHLY_FEE_MODELS


class ContractVersionQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise ImmutableRecordError("Contract versions cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise ImmutableRecordError("Contract versions cannot be deleted.")


class ContractVersion(models.Model):
    """The terms of a contract as they stood at one signature or amendment.

    History: a version is written once and never changed or deleted, so an
    invoice can always be traced to the terms in force when it was made.
    """

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveBigIntegerField()
    terms = models.JSONField(help_text="Snapshot of the contract's terms at this version.")
    effective_date = models.DateField(help_text="The day these terms take effect.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ContractVersionQuerySet.as_manager()

    data_classes: ClassVar[Spec] = {
        "terms": {
            "rates": DataClass.PRICING,
            "cap_amount": DataClass.PRICING,
            "monthly_fee": DataClass.PRICING,
            "expense_markup_percent": DataClass.PRICING,
            "milestones": {"amount": DataClass.PRICING},
        }
    }

    class Meta:
        ordering = ["contract_id", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "version"], name="canonical_contractversion_unique_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contract} v{self.version}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and type(self).objects.filter(pk=self.pk).exists():
            raise ImmutableRecordError("Contract versions cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ImmutableRecordError("Contract versions cannot be deleted.")


class BillingMilestone(CanonicalRecord):
    """An amount a contract lets the group bill once a deliverable is reached."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="milestones")
    project = models.ForeignKey(
        "canonical.Project",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="milestones",
    )
    code = models.CharField(max_length=40, help_text="Unique within the contract, e.g. M1.")
    name = models.CharField(max_length=200)
    due_date = models.DateField(null=True, blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    status = models.CharField(
        max_length=20, choices=MilestoneStatus.choices, default=MilestoneStatus.PLANNED
    )

    data_classes: ClassVar[Spec] = {"amount": DataClass.PRICING}

    class Meta:
        ordering = ["contract__number", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "code"], name="canonical_billingmilestone_unique_code"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def status_badge(self) -> str:
        return MILESTONE_STATUS_BADGES.get(self.status, "secondary")
