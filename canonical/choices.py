"""Choices of the canonical records, with the badge colour the UI shows beside each."""

from __future__ import annotations

from django.db import models


class BillingModel(models.TextChoices):
    TIME_AND_MATERIALS = "time_and_materials", "Time and materials"
    FIXED_FEE = "fixed_fee", "Fixed fee"
    RETAINER = "retainer", "Retainer"
    MILESTONE = "milestone", "Milestone"
    MANAGED_SERVICES = "managed_services", "Managed services"


# Models whose approved time is billed by the hour (a retainer's past its included hours).
HOURLY_BILLING_MODELS = (BillingModel.TIME_AND_MATERIALS, BillingModel.RETAINER)
# Models with a fee invoiced in advance each month.
MONTHLY_FEE_MODELS = (BillingModel.RETAINER, BillingModel.MANAGED_SERVICES)

BILLING_MODEL_BADGES = {
    BillingModel.TIME_AND_MATERIALS: "primary",
    BillingModel.FIXED_FEE: "info",
    BillingModel.RETAINER: "secondary",
    BillingModel.MILESTONE: "warning",
    BillingModel.MANAGED_SERVICES: "dark",
}


class ContractStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SIGNED = "signed", "Signed"
    AMENDED = "amended", "Amended"
    TERMINATED = "terminated", "Terminated"


CONTRACT_STATUS_BADGES = {
    ContractStatus.DRAFT: "secondary",
    ContractStatus.SIGNED: "success",
    ContractStatus.AMENDED: "info",
    ContractStatus.TERMINATED: "danger",
}


class ProjectStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    ACTIVE = "active", "Active"
    CLOSED = "closed", "Closed"


PROJECT_STATUS_BADGES = {
    ProjectStatus.PLANNED: "secondary",
    ProjectStatus.ACTIVE: "success",
    ProjectStatus.CLOSED: "info",
}


class TimeEntryStatus(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    INVOICED = "invoiced", "Invoiced"


TIME_ENTRY_STATUS_BADGES = {
    TimeEntryStatus.SUBMITTED: "secondary",
    TimeEntryStatus.APPROVED: "success",
    TimeEntryStatus.REJECTED: "danger",
    TimeEntryStatus.INVOICED: "info",
}


class MilestoneStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    REACHED = "reached", "Reached"
    INVOICED = "invoiced", "Invoiced"


MILESTONE_STATUS_BADGES = {
    MilestoneStatus.PLANNED: "secondary",
    MilestoneStatus.REACHED: "warning",
    MilestoneStatus.INVOICED: "success",
}


class RevenueMethod(models.TextChoices):
    """How a revenue schedule line recognises its amount."""

    AS_BILLED = "as_billed", "As billed (time)"
    MILESTONE = "milestone", "Milestone reached"
    STRAIGHT_LINE = "straight_line", "Monthly fee, straight-line"


class RevenueStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    RECOGNISED = "recognised", "Recognised"


REVENUE_STATUS_BADGES = {
    RevenueStatus.PLANNED: "secondary",
    RevenueStatus.RECOGNISED: "success",
}


class InvoiceStatus(models.TextChoices):
    CANDIDATE = "candidate", "Candidate"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    APPROVED = "approved", "Approved"
    POSTED = "posted", "Posted to ERP"
    PAID = "paid", "Paid"
    REJECTED = "rejected", "Rejected"


INVOICE_STATUS_BADGES = {
    InvoiceStatus.CANDIDATE: "secondary",
    InvoiceStatus.AWAITING_APPROVAL: "warning",
    InvoiceStatus.APPROVED: "primary",
    InvoiceStatus.POSTED: "info",
    InvoiceStatus.PAID: "success",
    InvoiceStatus.REJECTED: "danger",
}


class RuleCode(models.TextChoices):
    """What a canonical business rule refuses, as the code of the business exception it
    becomes (the engine's ``ExceptionType`` has every one of these)."""

    INVALID_LEGAL_ENTITY = "invalid_legal_entity", "Invalid legal entity"
    UNKNOWN_CUSTOMER = "unknown_customer", "Unknown customer"
    MISSING_RATE_CARD = "missing_rate_card", "Missing rate card or rate"
    UNKNOWN_PROJECT = "unknown_project", "Unknown project"
    UNKNOWN_RESOURCE = "unknown_resource", "Unknown resource"
    UNKNOWN_MILESTONE = "unknown_milestone", "Unknown milestone"
    PROJECT_NOT_ACTIVE = "project_not_active", "Project not active"
    RESOURCE_NOT_ASSIGNED = "resource_not_assigned", "Resource not assigned"
    BILLING_HOLD = "billing_hold", "Billing hold"
    CAP_EXCEEDED = "cap_exceeded", "Contract cap exceeded"
    AMENDMENT_CONFLICT = "amendment_conflict", "Amendment conflict"
    AMENDMENT_BEFORE_CONTRACT = "amendment_before_contract", "Amendment before its contract"
    BILLING_TERMS_MISSING = "billing_terms_missing", "Billing terms missing"
    ASSIGNMENT_OUTSIDE_PROJECT = (
        "assignment_outside_project",
        "Assignment outside its project's dates",
    )
    RESOURCE_UNAVAILABLE = "resource_unavailable", "Resource no longer with the firm"
    RESOURCE_OVER_ALLOCATED = "resource_over_allocated", "Resource allocated above 100 %"
    CUSTOMER_PARENT_CYCLE = "customer_parent_cycle", "Bill-to account cycle"
    INVOICE_TAX_CODE_MISSING = "invoice_tax_code_missing", "Invoice without a tax code"
    INVOICE_PAYMENT_TERMS_MISSING = (
        "invoice_payment_terms_missing",
        "Invoice without payment terms",
    )
    CODE_NOT_ACCEPTED_BY_ERP = "code_not_accepted_by_erp", "Code not accepted by the ERP"
    EXPENSE_CATEGORY_NOT_ALLOWED = (
        "expense_category_not_allowed",
        "Expense category not rebillable under the contract",
    )
    EXPENSE_RECEIPT_MISSING = "expense_receipt_missing", "Expense receipt missing"
    EXPENSE_RATE_MISSING = "expense_rate_missing", "Expense in another currency without a rate"


class AcceptedCodeKind(models.TextChoices):
    """What a code a legal entity's ERP accepts stands for on an invoice."""

    TAX_CODE = "tax_code", "Tax code"
    PAYMENT_TERMS = "payment_terms", "Payment terms"
