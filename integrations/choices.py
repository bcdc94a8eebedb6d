"""Choices of the integration engine, with the badge colour the UI shows beside each."""

from __future__ import annotations

from django.db import models


class SystemKind(models.TextChoices):
    CRM = "crm", "CRM"
    CLM = "clm", "Contract lifecycle / e-signature"
    PSA = "psa", "PSA / resource management"
    TIME = "time", "Time capture"
    HRIS = "hris", "HRIS"
    ERP = "erp", "ERP"


class Adapter(models.TextChoices):
    CANONICAL = "canonical", "Tower canonical JSON"
    SALESFORCE = "salesforce", "Salesforce Opportunity (Change Data Capture or REST)"
    DOCUSIGN = "docusign", "DocuSign Connect (JSON SIM)"
    HARVEST = "harvest", "Harvest time entries (API v2)"
    BAMBOOHR = "bamboohr", "BambooHR field-based webhook"
    WORKDAY = "workday", "Workday worker report (RaaS JSON)"


class FlowKind(models.TextChoices):
    CONTRACT_TO_PROJECT = "contract_to_project", "Contract to project"
    PROJECT_TO_STAFFING = "project_to_staffing", "Project to staffing"
    TIME_TO_BILLING = "time_to_billing", "Time to billing"
    AMENDMENT_PROPAGATION = "amendment_propagation", "Amendment propagation"
    MASTER_DATA_SYNC = "master_data_sync", "Master-data sync"
    RECONCILIATION = "reconciliation", "Reconciliation"


class TransactionState(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSING = "processing", "Processing"
    SUCCEEDED = "succeeded", "Succeeded"
    RETRY_SCHEDULED = "retry_scheduled", "Retry scheduled"
    DEAD = "dead", "Dead letter"
    BLOCKED = "blocked", "Blocked"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    CANCELLED = "cancelled", "Cancelled"
    REJECTED = "rejected", "Rejected"
    IGNORED = "ignored", "Ignored"
    REPLACED = "replaced", "Replaced by a replay"


TRANSACTION_STATE_BADGES = {
    TransactionState.RECEIVED: "secondary",
    TransactionState.PROCESSING: "info",
    TransactionState.SUCCEEDED: "success",
    TransactionState.RETRY_SCHEDULED: "warning",
    TransactionState.DEAD: "danger",
    TransactionState.BLOCKED: "danger",
    TransactionState.AWAITING_APPROVAL: "primary",
    TransactionState.CANCELLED: "secondary",
    TransactionState.REJECTED: "dark",
    TransactionState.IGNORED: "secondary",
    TransactionState.REPLACED: "success",
}

# States a worker may claim (a ``retry_scheduled`` row only once it is due).
CLAIMABLE_STATES = (TransactionState.RECEIVED, TransactionState.RETRY_SCHEDULED)
# States from which nothing happens any more without a person.
FINAL_STATES = (
    TransactionState.SUCCEEDED,
    TransactionState.CANCELLED,
    TransactionState.REJECTED,
    TransactionState.IGNORED,
    TransactionState.REPLACED,
)
# States with work still to do or a person to act: the live queues, a small part of history.
LIVE_STATES = (
    TransactionState.RECEIVED,
    TransactionState.PROCESSING,
    TransactionState.RETRY_SCHEDULED,
    TransactionState.DEAD,
    TransactionState.BLOCKED,
    TransactionState.AWAITING_APPROVAL,
)
RETRYABLE_STATES = (
    TransactionState.RETRY_SCHEDULED,
    TransactionState.DEAD,
    TransactionState.BLOCKED,
)
# States of an original that a succeeded replay settles as replaced: stopped, not done.
REPLACEABLE_STATES = RETRYABLE_STATES
# States of a replay still on its way: a second replay of the same original waits for it.
REPLAY_PENDING_STATES = (
    TransactionState.RECEIVED,
    TransactionState.PROCESSING,
    TransactionState.RETRY_SCHEDULED,
    TransactionState.AWAITING_APPROVAL,
)
CANCELLABLE_STATES = (
    TransactionState.RECEIVED,
    TransactionState.RETRY_SCHEDULED,
    TransactionState.DEAD,
    TransactionState.BLOCKED,
    TransactionState.AWAITING_APPROVAL,
)


class ProcessRole(models.TextChoices):
    """What a process of the tower does; each kind proves it is alive by a heartbeat."""

    WEB = "web", "Web server"
    WORKER = "worker", "Worker"
    BEAT = "beat", "Scheduler (beat)"


class RollupSpan(models.IntegerChoices):
    """The length of a roll-up bucket, in seconds."""

    MINUTE = 60, "Minute"
    HOUR = 3600, "Hour"


class Outcome(models.TextChoices):
    """What a succeeded transaction did to the canonical record."""

    APPLIED = "applied", "Applied"
    UNCHANGED = "unchanged", "Unchanged (same version already held)"
    STALE = "stale", "Stale (older than the version held; not applied)"


class ErrorClass(models.TextChoices):
    TRANSIENT = "transient", "Transient"
    DATA = "data", "Data"
    CONFIGURATION = "configuration", "Configuration"
    AUTHENTICATION = "authentication", "Authentication"
    DOWNSTREAM_REJECTION = "downstream_rejection", "Downstream rejection"
    INTERNAL = "internal", "Internal"


class AttemptOutcome(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    RETRY = "retry", "Failed, will retry"
    DEAD = "dead", "Failed, no attempts left"
    BLOCKED = "blocked", "Blocked by a business rule"


class SyncOutcome(models.TextChoices):
    SYNCED = "synced", "Synced"
    FAILED = "failed", "Failed"
    STALE = "stale", "Stale"


class Domain(models.TextChoices):
    """Kinds of business data, each with at most one owning system (its system of record)."""

    LEGAL_ENTITY = "legal_entity", "Legal entities"
    CUSTOMER = "customer", "Customers"
    RATE_CARD = "rate_card", "Rate cards"
    CONTRACT = "contract", "Contracts"
    PROJECT = "project", "Projects and staffing"
    RESOURCE = "resource", "Resources"
    TIME = "time", "Time"


class ExceptionType(models.TextChoices):
    """The code of a business exception. ``integrations.exception_types`` says, for each,
    which flow raises it, how severe it is, what money it holds up and where it is fixed."""

    MISSING_RATE_CARD = "missing_rate_card", "Missing rate card or rate"
    INVALID_LEGAL_ENTITY = "invalid_legal_entity", "Invalid legal entity"
    UNKNOWN_CUSTOMER = "unknown_customer", "Unknown customer"
    UNKNOWN_PROJECT = "unknown_project", "Unknown project"
    UNKNOWN_RESOURCE = "unknown_resource", "Unknown resource"
    UNKNOWN_MILESTONE = "unknown_milestone", "Unknown milestone"
    PROJECT_NOT_ACTIVE = "project_not_active", "Project not active"
    RESOURCE_NOT_ASSIGNED = "resource_not_assigned", "Resource not assigned"
    BILLING_HOLD = "billing_hold", "Billing hold"
    CAP_EXCEEDED = "cap_exceeded", "Contract cap exceeded"
    AMENDMENT_CONFLICT = "amendment_conflict", "Amendment conflict"
    AMENDMENT_BEFORE_CONTRACT = "amendment_before_contract", "Amendment before its contract"
    ASSIGNMENT_OUTSIDE_PROJECT = (
        "assignment_outside_project",
        "Assignment outside its project's dates",
    )
    RESOURCE_UNAVAILABLE = "resource_unavailable", "Resource no longer with the firm"
    RESOURCE_OVER_ALLOCATED = "resource_over_allocated", "Resource allocated above 100 %"
    NON_OWNER_UPDATE = "non_owner_update", "Update from a system that does not own the data"
    DOWNSTREAM_REJECTED = "downstream_rejected", "Rejected by the target system"
    AUTHENTICATION_FAILED = "authentication_failed", "The system refused the tower's credentials"
    MAPPING_INCOMPLETE = "mapping_incomplete", "A business value the field mapping cannot give"
    SYSTEM_NOT_CONFIGURED = "system_not_configured", "Connected system not configured"
    ERP_NOT_ROUTED = "erp_not_routed", "Legal entity not routed to an ERP"
    RECONCILIATION_DRIFT = "reconciliation_drift", "Reconciliation drift"
    UNHANDLED_EVENT_TYPE = "unhandled_event_type", "No flow handles this event type"
    INVOICE_REJECTED = "invoice_rejected", "Invoice candidate rejected"
    EDITED_REPLAY = "edited_replay", "Edited replay of a financial document, awaiting approval"
    BILLING_TERMS_MISSING = "billing_terms_missing", "Billing terms missing"
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
    CONTRACT_NEARING_END = "contract_nearing_end", "Contract nearing its end or cap"
    MISSING_COST_RATE = "missing_cost_rate", "Resource without a cost rate"
    RESOURCE_LACKS_SKILLS = "resource_lacks_skills", "Resource without the role's skills"
    # Raised by no code any more; kept so that exceptions recorded before the codes were
    # typed still read.
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
CLOSED_STATUSES = (ExceptionStatus.RESOLVED, ExceptionStatus.DISMISSED)


class BreakerState(models.TextChoices):
    CLOSED = "closed", "Closed: calls go through"
    OPEN = "open", "Open: calls wait"
    HALF_OPEN = "half_open", "Half open: one call tries"


BREAKER_STATE_BADGES = {
    BreakerState.CLOSED: "success",
    BreakerState.OPEN: "danger",
    BreakerState.HALF_OPEN: "warning",
}


class AuthKind(models.TextChoices):
    """How the tower proves who it is to a system it calls."""

    NONE = "none", "None"
    API_KEY = "api_key", "API key in a header"
    BASIC = "basic", "HTTP Basic (user and password)"
    OAUTH2_CLIENT_CREDENTIALS = "oauth2", "OAuth 2.0 client credentials"
    HARVEST = "harvest", "Harvest (personal access token and account id)"


class MappingStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    RETIRED = "retired", "Retired"


class PollerRecordType(models.TextChoices):
    """What a poller reads from a system's API."""

    TIME_ENTRY = "time_entry", "Time entries"
    CUSTOMER = "customer", "Customers"
    WORKER = "worker", "Workers"


class PollerRunOutcome(models.TextChoices):
    NEVER = "never", "Never run"
    RUNNING = "running", "Running"
    OK = "ok", "OK"
    FAILED = "failed", "Failed"


POLLER_RUN_OUTCOME_BADGES = {
    PollerRunOutcome.NEVER: "secondary",
    PollerRunOutcome.RUNNING: "info",
    PollerRunOutcome.OK: "success",
    PollerRunOutcome.FAILED: "danger",
}


class ImportKind(models.TextChoices):
    """What a batch import file holds; each kind is one canonical event type."""

    CUSTOMERS = "customers", "Customers"
    CONTRACTS = "contracts", "Contracts"
    PROJECTS = "projects", "Projects"
    ASSIGNMENTS = "assignments", "Assignments"
    RESOURCES = "resources", "Resources"
    TIME = "time", "Approved time"


class ImportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    JSONL = "jsonl", "JSON Lines"


class ImportState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    INTERRUPTED = "interrupted", "Interrupted (resumable)"
    DONE = "done", "Done"


IMPORT_STATE_BADGES = {
    ImportState.QUEUED: "secondary",
    ImportState.RUNNING: "info",
    ImportState.INTERRUPTED: "warning",
    ImportState.DONE: "success",
}


class ImportRowOutcome(models.TextChoices):
    """What a row of an import did (or, in a dry run, would do) to its canonical record."""

    CREATED = "created", "Created"
    CHANGED = "changed", "Changed"
    UNCHANGED = "unchanged", "Unchanged"
    REFUSED = "refused", "Refused"
    BLOCKED = "blocked", "Held as a business exception"


IMPORT_ROW_OUTCOME_BADGES = {
    ImportRowOutcome.CREATED: "success",
    ImportRowOutcome.CHANGED: "info",
    ImportRowOutcome.UNCHANGED: "secondary",
    ImportRowOutcome.REFUSED: "danger",
    ImportRowOutcome.BLOCKED: "warning",
}


class CompensationAction(models.TextChoices):
    """What undoes a side effect another system kept after a later step failed for good
    (``integrations.flows.compensation`` says which step proposes which)."""

    CLOSE_ERP_JOB = "close_erp_job", "Close the ERP job"
    CREDIT_NOTE = "credit_note", "Credit note against the posted invoice"


# Actions that move money: a second person approves them (four eyes).
MONEY_ACTIONS = frozenset({CompensationAction.CREDIT_NOTE})


class CompensationState(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    EXECUTING = "executing", "Executing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    REJECTED = "rejected", "Rejected"


COMPENSATION_STATE_BADGES = {
    CompensationState.PROPOSED: "info",
    CompensationState.AWAITING_APPROVAL: "warning",
    CompensationState.EXECUTING: "primary",
    CompensationState.DONE: "success",
    CompensationState.FAILED: "danger",
    CompensationState.REJECTED: "secondary",
}
# Compensations a person may still act on.
OPEN_COMPENSATION_STATES = (
    CompensationState.PROPOSED,
    CompensationState.AWAITING_APPROVAL,
    CompensationState.FAILED,
)


class EventType(models.TextChoices):
    """What the tower publishes to subscribers when canonical state changes."""

    CONTRACT_SIGNED = "contract.signed", "Contract signed (a new version applied)"
    PROJECT_READY = "project.ready", "Project ready (created in the ERP and the PSA)"
    INVOICE_POSTED = "invoice.posted", "Invoice posted to the ERP"
    EXCEPTION_RAISED = "exception.raised", "Business exception raised"


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    RETRY_SCHEDULED = "retry_scheduled", "Retry scheduled"
    DELIVERED = "delivered", "Delivered"


DELIVERY_STATE_BADGES = {
    DeliveryState.PENDING: "secondary",
    DeliveryState.SENDING: "info",
    DeliveryState.RETRY_SCHEDULED: "warning",
    DeliveryState.DELIVERED: "success",
}
