"""Filters of the canonical records, shared by the API lists and the page lists.

Foreign keys are filtered by business key (``?customer=C-1001``, ``?legal_entity=US01``).
"""

from __future__ import annotations

import django_filters as filters

from canonical.choices import (
    BillingModel,
    ContractStatus,
    InvoiceStatus,
    MilestoneStatus,
    ProjectStatus,
    TimeEntryStatus,
)
from canonical.filters import MomentFilter
from canonical.models import (
    Assignment,
    BillingMilestone,
    Contract,
    Customer,
    Invoice,
    LegalEntity,
    Project,
    RateCard,
    Resource,
    TimeEntry,
)

KEY = ["exact", "icontains"]


def by_key(path: str, label: str) -> filters.CharFilter:
    """A foreign-key filter on the related record's business key."""
    return filters.CharFilter(field_name=path, label=label)


class CanonicalRecordFilterSet(filters.FilterSet):
    source_system = filters.CharFilter(label="Source system slug")
    updated_after = MomentFilter(
        field_name="updated_at", lookup_expr="gte", label="Updated at or after (ISO 8601)"
    )


class LegalEntityFilterSet(CanonicalRecordFilterSet):
    class Meta:
        model = LegalEntity
        fields = {
            "code": KEY,
            "name": ["icontains"],
            "country": ["exact"],
            "currency": ["exact"],
            "active": ["exact"],
        }


class CustomerFilterSet(CanonicalRecordFilterSet):
    legal_entity = by_key("legal_entity__code", "Legal entity code")

    class Meta:
        model = Customer
        fields = {
            "number": KEY,
            "name": ["icontains"],
            "currency": ["exact"],
            "active": ["exact"],
            "billing_hold": ["exact"],
        }


class RateCardFilterSet(CanonicalRecordFilterSet):
    legal_entity = by_key("legal_entity__code", "Legal entity code")
    role = filters.CharFilter(
        field_name="lines__role", label="Has a rate for this role", distinct=True
    )

    class Meta:
        model = RateCard
        fields = {"code": KEY, "name": ["icontains"], "currency": ["exact"]}


class ContractFilterSet(CanonicalRecordFilterSet):
    customer = by_key("customer__number", "Customer number")
    legal_entity = by_key("legal_entity__code", "Legal entity code")
    rate_card = by_key("rate_card__code", "Rate card code")
    status = filters.MultipleChoiceFilter(choices=ContractStatus.choices)
    billing_model = filters.MultipleChoiceFilter(choices=BillingModel.choices)
    start_date = filters.DateFromToRangeFilter()

    class Meta:
        model = Contract
        fields = {"number": KEY, "currency": ["exact"], "correlation_id": ["exact"]}


class ProjectFilterSet(CanonicalRecordFilterSet):
    contract = by_key("contract__number", "Contract number")
    customer = by_key("customer__number", "Customer number")
    legal_entity = by_key("legal_entity__code", "Legal entity code")
    status = filters.MultipleChoiceFilter(choices=ProjectStatus.choices)
    start_date = filters.DateFromToRangeFilter()

    class Meta:
        model = Project
        fields = {
            "code": KEY,
            "name": ["icontains"],
            "billable": ["exact"],
            "billing_hold": ["exact"],
        }


class ResourceFilterSet(CanonicalRecordFilterSet):
    legal_entity = by_key("legal_entity__code", "Legal entity code")
    email = filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = Resource
        fields = {
            "employee_number": KEY,
            "name": ["icontains"],
            "role": ["exact"],
            "active": ["exact"],
        }


class AssignmentFilterSet(CanonicalRecordFilterSet):
    project = by_key("project__code", "Project code")
    resource = by_key("resource__employee_number", "Resource employee number")
    start_date = filters.DateFromToRangeFilter()

    class Meta:
        model = Assignment
        fields = {"number": KEY, "role": ["exact"]}


class TimeEntryFilterSet(CanonicalRecordFilterSet):
    project = by_key("project__code", "Project code")
    resource = by_key("resource__employee_number", "Resource employee number")
    assignment = by_key("assignment__number", "Assignment number")
    invoice = by_key("invoice__number", "Invoice number")
    status = filters.MultipleChoiceFilter(choices=TimeEntryStatus.choices)
    work_date = filters.DateFromToRangeFilter()

    class Meta:
        model = TimeEntry
        fields = {"number": KEY, "billable": ["exact"]}


class BillingMilestoneFilterSet(CanonicalRecordFilterSet):
    contract = by_key("contract__number", "Contract number")
    project = by_key("project__code", "Project code")
    status = filters.MultipleChoiceFilter(choices=MilestoneStatus.choices)
    due_date = filters.DateFromToRangeFilter()

    class Meta:
        model = BillingMilestone
        fields = {"code": KEY, "name": ["icontains"]}


class InvoiceFilterSet(CanonicalRecordFilterSet):
    project = by_key("project__code", "Project code")
    customer = by_key("customer__number", "Customer number")
    legal_entity = by_key("legal_entity__code", "Legal entity code")
    status = filters.MultipleChoiceFilter(choices=InvoiceStatus.choices)
    period_start = filters.DateFromToRangeFilter()
    period_end = filters.DateFromToRangeFilter()

    class Meta:
        model = Invoice
        fields = {"number": KEY, "erp_number": ["exact"], "currency": ["exact"]}
