"""The admin of the canonical records; every change is audited."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from canonical.errors import RuleViolation
from canonical.models import (
    AcceptedCode,
    Assignment,
    BillingMilestone,
    Contract,
    ContractVersion,
    Customer,
    ExpenseLine,
    ExpenseReport,
    Invoice,
    InvoiceLine,
    LegalEntity,
    Project,
    ProjectCost,
    RateCard,
    RateCardLine,
    Resource,
    RevenueSchedule,
    RevenueScheduleLine,
    TimeEntry,
)
from canonical.services.parties import customer_parent_check
from controltower.web.admin.base import AuditedModelAdmin

RECORD_FIELDS = ("version", "source_system", "created_at", "updated_at")


class CanonicalRecordAdmin(AuditedModelAdmin):
    readonly_fields = RECORD_FIELDS

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # A manual change is a change like any other: the version grows so that
        # every connected system's copy shows as behind.
        if change and form.has_changed():
            obj.version += 1
        super().save_model(request, obj, form, change)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LegalEntity)
class LegalEntityAdmin(CanonicalRecordAdmin):
    list_display = ["code", "name", "country", "currency", "active", "version", "updated_at"]
    list_filter = ["active", "country", "currency"]
    search_fields = ["code", "name"]


class CustomerForm(forms.ModelForm):
    def clean_parent(self) -> Customer | None:
        parent = self.cleaned_data.get("parent")
        number = self.cleaned_data.get("number") or self.instance.number
        if parent is not None and number:
            try:
                customer_parent_check(number=number, parent_number=parent.number)
            except RuleViolation as refused:
                raise ValidationError(refused.message) from refused
        return parent


@admin.register(Customer)
class CustomerAdmin(CanonicalRecordAdmin):
    form = CustomerForm
    list_display = [
        "number",
        "name",
        "legal_entity",
        "currency",
        "tax_code",
        "payment_terms",
        "parent",
        "active",
        "billing_hold",
        "version",
    ]
    list_filter = ["active", "billing_hold", "legal_entity"]
    list_select_related = ["legal_entity", "parent"]
    search_fields = ["number", "name"]
    autocomplete_fields = ["legal_entity", "parent"]


@admin.register(AcceptedCode)
class AcceptedCodeAdmin(CanonicalRecordAdmin):
    """The codes each legal entity's ERP accepts; the nightly sync keeps them, a person may
    add one the ERP has before it runs (a parked invoice then tries again by the recheck)."""

    list_display = ["legal_entity", "kind", "code", "name", "active", "source_system"]
    list_filter = ["kind", "active", "legal_entity"]
    list_select_related = ["legal_entity"]
    search_fields = ["code", "name", "legal_entity__code"]
    autocomplete_fields = ["legal_entity"]


class RateCardLineInline(admin.TabularInline):
    model = RateCardLine
    extra = 0


@admin.register(RateCard)
class RateCardAdmin(CanonicalRecordAdmin):
    list_display = ["code", "name", "currency", "legal_entity", "version"]
    list_filter = ["legal_entity", "currency"]
    list_select_related = ["legal_entity"]
    search_fields = ["code", "name"]
    inlines = [RateCardLineInline]


@admin.register(RateCardLine)
class RateCardLineAdmin(AuditedModelAdmin):
    list_display = ["rate_card", "role", "rate"]
    list_filter = ["rate_card"]
    list_select_related = ["rate_card"]
    search_fields = ["rate_card__code", "role"]


class ContractVersionInline(ReadOnlyInline):
    model = ContractVersion
    fields = ["version", "effective_date", "terms", "created_at"]
    readonly_fields = fields


class BillingMilestoneInline(admin.TabularInline):
    model = BillingMilestone
    fields = ["code", "name", "project", "due_date", "amount", "status"]
    raw_id_fields = ["project"]
    extra = 0


@admin.register(Contract)
class ContractAdmin(CanonicalRecordAdmin):
    list_display = [
        "number",
        "customer",
        "legal_entity",
        "billing_model",
        "status",
        "start_date",
        "end_date",
        "version",
    ]
    list_filter = ["status", "billing_model", "legal_entity"]
    list_select_related = ["customer", "legal_entity"]
    search_fields = ["number", "customer__number", "customer__name", "correlation_id"]
    autocomplete_fields = ["customer", "legal_entity", "rate_card"]
    date_hierarchy = "start_date"
    inlines = [ContractVersionInline, BillingMilestoneInline]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown, never added, changed or deleted by hand: history, or what a flow computes."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ContractVersion)
class ContractVersionAdmin(ReadOnlyAdmin):
    list_display = ["contract", "version", "effective_date", "created_at"]
    list_select_related = ["contract"]
    search_fields = ["contract__number"]


@admin.register(ExpenseReport)
class ExpenseReportAdmin(ReadOnlyAdmin):
    """Expense reports as the PSA approved them; billed by the billing flow."""

    list_display = ["number", "project", "resource", "currency", "approved_at"]
    list_select_related = ["project", "resource"]
    search_fields = ["number", "project__code", "resource__employee_number"]


@admin.register(ExpenseLine)
class ExpenseLineAdmin(ReadOnlyAdmin):
    list_display = ["report", "line_number", "category", "amount", "currency", "billable"]
    list_select_related = ["report"]
    search_fields = ["report__number", "category"]


@admin.register(ProjectCost)
class ProjectCostAdmin(ReadOnlyAdmin):
    """Approved time's cost per project and month, as the cost run posts it to the ERP."""

    list_display = ["project", "period_start", "hours", "amount", "uncosted_hours"]
    list_select_related = ["project"]
    search_fields = ["project__code"]


@admin.register(RevenueSchedule)
class RevenueScheduleAdmin(ReadOnlyAdmin):
    list_display = ["contract", "project", "total"]
    list_select_related = ["contract", "project"]
    search_fields = ["contract__number"]


@admin.register(RevenueScheduleLine)
class RevenueScheduleLineAdmin(ReadOnlyAdmin):
    list_display = ["schedule", "period_start", "method", "status", "amount"]
    list_select_related = ["schedule__contract"]
    search_fields = ["schedule__contract__number"]


@admin.register(Project)
class ProjectAdmin(CanonicalRecordAdmin):
    list_display = [
        "code",
        "name",
        "customer",
        "contract",
        "legal_entity",
        "status",
        "billable",
        "billing_hold",
        "version",
    ]
    list_filter = ["status", "billable", "billing_hold", "legal_entity"]
    list_select_related = ["customer", "contract", "legal_entity"]
    search_fields = ["code", "name", "customer__number", "contract__number"]
    autocomplete_fields = ["contract", "customer", "legal_entity"]


@admin.register(Resource)
class ResourceAdmin(CanonicalRecordAdmin):
    list_display = ["employee_number", "name", "role", "legal_entity", "active", "version"]
    list_filter = ["active", "role", "legal_entity"]
    list_select_related = ["legal_entity"]
    search_fields = ["employee_number", "name", "email"]


@admin.register(Assignment)
class AssignmentAdmin(CanonicalRecordAdmin):
    list_display = [
        "number",
        "project",
        "resource",
        "role",
        "start_date",
        "end_date",
        "allocation_percent",
        "version",
    ]
    list_filter = ["role", "project__legal_entity"]
    list_select_related = ["project", "resource"]
    search_fields = ["number", "project__code", "resource__employee_number", "resource__name"]
    autocomplete_fields = ["project", "resource"]


@admin.register(TimeEntry)
class TimeEntryAdmin(CanonicalRecordAdmin):
    list_display = ["number", "project", "resource", "work_date", "hours", "billable", "status"]
    list_filter = ["status", "billable", "project__legal_entity"]
    list_select_related = ["project", "resource"]
    search_fields = ["number", "project__code", "resource__employee_number"]
    raw_id_fields = ["project", "resource", "assignment", "invoice"]
    date_hierarchy = "work_date"


@admin.register(BillingMilestone)
class BillingMilestoneAdmin(CanonicalRecordAdmin):
    list_display = ["code", "name", "contract", "project", "due_date", "amount", "status"]
    list_filter = ["status"]
    list_select_related = ["contract", "project"]
    search_fields = ["code", "name", "contract__number"]
    raw_id_fields = ["contract", "project"]


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    fields = ["description", "time_entry", "milestone", "quantity", "rate", "amount"]
    raw_id_fields = ["time_entry", "milestone"]
    extra = 0


@admin.register(Invoice)
class InvoiceAdmin(CanonicalRecordAdmin):
    list_display = [
        "number",
        "project",
        "customer",
        "legal_entity",
        "period_start",
        "period_end",
        "amount",
        "currency",
        "status",
    ]
    list_filter = ["status", "legal_entity"]
    list_select_related = ["project", "customer", "legal_entity"]
    search_fields = ["number", "erp_number", "project__code", "customer__number", "customer__name"]
    raw_id_fields = ["project", "customer", "legal_entity", "prepared_by", "approved_by"]
    inlines = [InvoiceLineInline]


@admin.register(InvoiceLine)
class InvoiceLineAdmin(AuditedModelAdmin):
    list_display = ["invoice", "description", "quantity", "rate", "amount"]
    list_select_related = ["invoice"]
    search_fields = ["invoice__number", "description"]
    raw_id_fields = ["invoice", "time_entry", "milestone"]
