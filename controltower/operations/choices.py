"""Choices of the operations layer, with the badge colour the UI shows beside each."""

from __future__ import annotations

from django.db import models


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
    NOTICE = "notice", "Notice"


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
    RETRY_TRANSACTIONS = "retry_transactions", "Retry transactions"


# What a bulk operation over exceptions may do; a transactions' bulk retry is started by
# ``transactions_bulk_retry`` (the transactions list), not over exceptions.
EXCEPTION_BULK_ACTIONS = (
    BulkAction.ASSIGN,
    BulkAction.RESOLVE,
    BulkAction.DISMISS,
    BulkAction.RETRY,
)


class BulkStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ApiTokenState(models.TextChoices):
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"
