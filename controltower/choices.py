"""Choices of the operations layer, with the badge colour the UI shows beside each."""

from __future__ import annotations

from django.db import models


class ExceptionType(models.TextChoices):
    MISSING_RATE_CARD = "missing_rate_card", "Missing rate card or rate"
    INVALID_LEGAL_ENTITY = "invalid_legal_entity", "Invalid legal entity"
    UNKNOWN_CUSTOMER = "unknown_customer", "Unknown customer"
    UNKNOWN_PROJECT = "unknown_project", "Unknown project"
    UNKNOWN_RESOURCE = "unknown_resource", "Unknown resource"
    PROJECT_NOT_ACTIVE = "project_not_active", "Project not active"
    RESOURCE_NOT_ASSIGNED = "resource_not_assigned", "Resource not assigned"
    BILLING_HOLD = "billing_hold", "Billing hold"
    CAP_EXCEEDED = "cap_exceeded", "Contract cap exceeded"
    AMENDMENT_CONFLICT = "amendment_conflict", "Amendment conflict"
    AMENDMENT_BEFORE_CONTRACT = "amendment_before_contract", "Amendment before its contract"
    NON_OWNER_UPDATE = "non_owner_update", "Update from a system that does not own the data"
    DOWNSTREAM_REJECTED = "downstream_rejected", "Rejected by the target system"
    RECONCILIATION_DRIFT = "reconciliation_drift", "Reconciliation drift"
    UNHANDLED_EVENT_TYPE = "unhandled_event_type", "No flow handles this event type"
    INVOICE_REJECTED = "invoice_rejected", "Invoice candidate rejected"
    EDITED_REPLAY = "edited_replay", "Edited replay of a financial document, awaiting approval"
    OTHER = "other", "Other"


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


SEVERITY_BADGES = {
    Severity.LOW: "secondary",
    Severity.MEDIUM: "warning",
    Severity.HIGH: "danger",
    Severity.CRITICAL: "danger",
}


class ExceptionStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    RESOLVED = "resolved", "Resolved"
    DISMISSED = "dismissed", "Dismissed"


EXCEPTION_STATUS_BADGES = {
    ExceptionStatus.OPEN: "danger",
    ExceptionStatus.IN_PROGRESS: "warning",
    ExceptionStatus.RESOLVED: "success",
    ExceptionStatus.DISMISSED: "secondary",
}
OPEN_STATUSES = (ExceptionStatus.OPEN, ExceptionStatus.IN_PROGRESS)

# Missing master data blocks a whole stream of work: it is more severe than one bad record.
DEFAULT_SEVERITY = {
    ExceptionType.MISSING_RATE_CARD: Severity.HIGH,
    ExceptionType.INVALID_LEGAL_ENTITY: Severity.HIGH,
    ExceptionType.UNKNOWN_CUSTOMER: Severity.HIGH,
    ExceptionType.CAP_EXCEEDED: Severity.HIGH,
    ExceptionType.DOWNSTREAM_REJECTED: Severity.HIGH,
    ExceptionType.AMENDMENT_CONFLICT: Severity.HIGH,
    ExceptionType.RECONCILIATION_DRIFT: Severity.HIGH,
    ExceptionType.UNHANDLED_EVENT_TYPE: Severity.CRITICAL,
}


class SlaKind(models.TextChoices):
    FLOW = "flow", "Flow: work finished in time"
    EXCEPTION = "exception", "Exception: resolved in time"


class SlaState(models.TextChoices):
    AT_RISK = "at_risk", "At risk"
    BREACHED = "breached", "Breached"
    MET = "met", "Met"


SLA_STATE_BADGES = {
    SlaState.AT_RISK: "warning",
    SlaState.BREACHED: "danger",
    SlaState.MET: "success",
}


class NotificationKind(models.TextChoices):
    AT_RISK = "at_risk", "At risk"
    BREACH = "breach", "Breach"
    ESCALATION = "escalation", "Escalation"


class NotificationChannel(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Chat webhook"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    HELD = "held", "Held (maintenance window)"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed after retries"


class BulkAction(models.TextChoices):
    ASSIGN = "assign", "Assign"
    RESOLVE = "resolve", "Resolve"
    DISMISS = "dismiss", "Dismiss"
    RETRY = "retry", "Retry the blocked transactions"


class BulkStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


# Exceptions that hold work for a second person's approval (four eyes), not for a fix.
APPROVAL_TYPES = (ExceptionType.AMENDMENT_CONFLICT, ExceptionType.EDITED_REPLAY)
