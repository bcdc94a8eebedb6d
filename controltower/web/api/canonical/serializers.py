"""Read serializers: every foreign key is shown by its business key.

Pricing and personal data answer null to a role that may not see them
(``controltower.operations.selectors.data_access``).
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from canonical.classification import data_classes
from canonical.models import (
    Assignment,
    BillingMilestone,
    Contract,
    ContractVersion,
    Customer,
    Invoice,
    InvoiceLine,
    LegalEntity,
    Project,
    RateCard,
    RateCardLine,
    Resource,
    TimeEntry,
)
from controltower.operations.selectors.data_access import record_mask

RECORD_FIELDS = ["version", "source_system", "created_at", "updated_at"]


class MaskedModelSerializer(serializers.ModelSerializer):
    """A model's classified fields are null for a reader whose role may not see them."""

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for name in data_classes(self.Meta.model):
            if name in fields:
                fields[name].allow_null = True
        return fields

    def to_representation(self, instance: Any) -> dict[str, Any]:
        request = self.context.get("request")
        return record_mask(
            super().to_representation(instance),
            model=self.Meta.model,
            user=getattr(request, "user", None),
            placeholder=None,
        )


class BusinessKeyField(serializers.SlugRelatedField):
    """A foreign key shown as the related record's business key; null (and published as
    nullable) where the foreign key may be empty."""

    def bind(self, field_name: str, parent) -> None:
        super().bind(field_name, parent)
        model = getattr(getattr(parent, "Meta", None), "model", None)
        if model is not None:
            self.allow_null = model._meta.get_field(self.source).null


def key(slug_field: str) -> serializers.SlugRelatedField:
    """A foreign key shown as the related record's business key."""
    return BusinessKeyField(slug_field=slug_field, read_only=True)


class LegalEntitySerializer(MaskedModelSerializer):
    class Meta:
        model = LegalEntity
        fields = ["id", "code", "name", "country", "currency", "active", *RECORD_FIELDS]


class CustomerSerializer(MaskedModelSerializer):
    legal_entity = key("code")
    parent = key("number")

    class Meta:
        model = Customer
        fields = [
            "id",
            "number",
            "name",
            "legal_entity",
            "currency",
            "tax_code",
            "payment_terms",
            "parent",
            "active",
            "billing_hold",
            *RECORD_FIELDS,
        ]


class RateCardLineSerializer(MaskedModelSerializer):
    class Meta:
        model = RateCardLine
        fields = ["role", "rate"]


class RateCardSerializer(MaskedModelSerializer):
    legal_entity = key("code")
    lines = RateCardLineSerializer(many=True, read_only=True)

    class Meta:
        model = RateCard
        fields = ["id", "code", "name", "currency", "legal_entity", "lines", *RECORD_FIELDS]


class ContractVersionSerializer(MaskedModelSerializer):
    class Meta:
        model = ContractVersion
        fields = ["version", "terms", "effective_date", "created_at"]


class BillingMilestoneSerializer(MaskedModelSerializer):
    contract = key("number")
    project = key("code")

    class Meta:
        model = BillingMilestone
        fields = [
            "id",
            "contract",
            "project",
            "code",
            "name",
            "due_date",
            "amount",
            "status",
            *RECORD_FIELDS,
        ]


class ContractSerializer(MaskedModelSerializer):
    customer = key("number")
    legal_entity = key("code")
    rate_card = key("code")
    versions = ContractVersionSerializer(many=True, read_only=True)
    milestones = BillingMilestoneSerializer(many=True, read_only=True)
    billed_amount = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        read_only=True,
        help_text="What the contract's invoices bill, rejected ones aside.",
    )
    cap_remaining = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        read_only=True,
        allow_null=True,
        help_text="What may still be billed under the cap; null for a contract without one.",
    )

    class Meta:
        model = Contract
        fields = [
            "id",
            "number",
            "customer",
            "legal_entity",
            "rate_card",
            "billing_model",
            "currency",
            "start_date",
            "end_date",
            "cap_amount",
            "billed_amount",
            "cap_remaining",
            "monthly_fee",
            "included_hours",
            "unused_hours_roll_over",
            "tax_code",
            "payment_terms",
            "expense_categories",
            "expense_markup_percent",
            "status",
            "signed_at",
            "correlation_id",
            "versions",
            "milestones",
            *RECORD_FIELDS,
        ]


class ProjectSerializer(MaskedModelSerializer):
    contract = key("number")
    customer = key("number")
    legal_entity = key("code")

    class Meta:
        model = Project
        fields = [
            "id",
            "code",
            "name",
            "contract",
            "customer",
            "legal_entity",
            "status",
            "billable",
            "billing_hold",
            "start_date",
            "end_date",
            "closed_on",
            *RECORD_FIELDS,
        ]


class MarginMonthSerializer(serializers.Serializer):
    period_start = serializers.DateField()
    revenue = serializers.DecimalField(max_digits=14, decimal_places=2)
    planned_revenue = serializers.DecimalField(max_digits=14, decimal_places=2)
    cost = serializers.DecimalField(max_digits=14, decimal_places=2)
    margin = serializers.DecimalField(max_digits=14, decimal_places=2)
    hours = serializers.DecimalField(max_digits=10, decimal_places=2)
    uncosted_hours = serializers.DecimalField(max_digits=10, decimal_places=2)


class ProjectMarginSerializer(serializers.Serializer):
    """A project's revenue recognised, cost and margin, per month and in all."""

    currency = serializers.CharField()
    revenue = serializers.DecimalField(max_digits=14, decimal_places=2)
    planned_revenue = serializers.DecimalField(max_digits=14, decimal_places=2)
    cost = serializers.DecimalField(max_digits=14, decimal_places=2)
    margin = serializers.DecimalField(max_digits=14, decimal_places=2)
    margin_percent = serializers.DecimalField(max_digits=7, decimal_places=1, allow_null=True)
    uncosted_hours = serializers.DecimalField(max_digits=10, decimal_places=2)
    months = MarginMonthSerializer(many=True)


class ResourceSerializer(MaskedModelSerializer):
    legal_entity = key("code")

    class Meta:
        model = Resource
        fields = [
            "id",
            "employee_number",
            "name",
            "email",
            "role",
            "legal_entity",
            "cost_rate",
            "active",
            *RECORD_FIELDS,
        ]


class AssignmentSerializer(MaskedModelSerializer):
    project = key("code")
    resource = key("employee_number")

    class Meta:
        model = Assignment
        fields = [
            "id",
            "number",
            "project",
            "resource",
            "role",
            "start_date",
            "end_date",
            "allocation_percent",
            "bill_rate",
            *RECORD_FIELDS,
        ]


class TimeEntrySerializer(MaskedModelSerializer):
    project = key("code")
    resource = key("employee_number")
    assignment = key("number")
    invoice = key("number")

    class Meta:
        model = TimeEntry
        fields = [
            "id",
            "number",
            "project",
            "resource",
            "assignment",
            "work_date",
            "hours",
            "billable",
            "status",
            "approved_at",
            "invoice",
            *RECORD_FIELDS,
        ]


class InvoiceLineSerializer(MaskedModelSerializer):
    time_entry = key("number")
    milestone = key("code")

    class Meta:
        model = InvoiceLine
        fields = ["description", "time_entry", "milestone", "quantity", "rate", "amount"]


class InvoiceSerializer(MaskedModelSerializer):
    project = key("code")
    customer = key("number")
    legal_entity = key("code")
    prepared_by = key("username")
    approved_by = key("username")
    lines = InvoiceLineSerializer(many=True, read_only=True)

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "project",
            "customer",
            "legal_entity",
            "period_start",
            "period_end",
            "currency",
            "amount",
            "status",
            "erp_number",
            "prepared_by",
            "approved_by",
            "posted_at",
            "paid_at",
            "lines",
            *RECORD_FIELDS,
        ]
