from __future__ import annotations

from django.db import models
from django.utils import timezone

from integrations.choices import (
    CANCELLABLE_STATES,
    RETRYABLE_STATES,
    TRANSACTION_STATE_BADGES,
    AttemptOutcome,
    ErrorClass,
    Outcome,
    TransactionState,
)


class Transaction(models.Model):
    """One inbound event or scheduled unit of work, and everything that happened to it.

    The row, not the broker message, is the source of truth: workers claim rows in
    a claimable state, and a sweep re-enqueues anything due or orphaned.
    """

    flow = models.ForeignKey(
        "integrations.Flow",
        null=True,
        blank=True,
        db_index=False,  # (flow, state) below serves every look-up by flow
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty only for a request refused before its flow was known.",
    )
    source_system = models.ForeignKey(
        "integrations.ConnectedSystem",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty for work the tower itself starts (an approved invoice to post).",
    )
    target_system = models.ForeignKey(
        "integrations.ConnectedSystem",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    event_type = models.CharField(
        max_length=64, blank=True, help_text="For example customer.upserted."
    )
    business_key = models.CharField(
        max_length=100, blank=True, help_text="Customer no., contract no., ..."
    )
    external_id = models.CharField(max_length=100, blank=True, help_text="The source's record id.")
    # NULL, not "", for replays and refused requests: NULLs never collide in the unique index.
    idempotency_key = models.CharField(  # noqa: DJ001
        max_length=200, null=True, blank=True, help_text="Unique per source system (the event id)."
    )
    event_version = models.PositiveBigIntegerField(null=True, blank=True)
    schema_version = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text=(
            "The canonical schema version the event arrived in; the normalized event is "
            "upcast to its type's current version."
        ),
    )
    correlation_id = models.CharField(max_length=64, help_text="Lineage across flows.")
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
        help_text="The transaction this one replays or was spawned by.",
    )
    replaced_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The replay that succeeded in this one's place (this one is then replaced).",
    )
    payload = models.JSONField(null=True, blank=True, help_text="The event as received.")
    raw_body = models.TextField(
        blank=True, help_text="A refused request's body as received (bounded in size)."
    )
    raw_body_bytes = models.PositiveIntegerField(
        null=True, blank=True, help_text="The size of a refused request's body as sent, in bytes."
    )
    raw_body_truncated = models.BooleanField(
        default=False,
        help_text="Only the first CT_REJECTED_BODY_MAX_BYTES of the refused body were kept.",
    )
    normalized = models.JSONField(null=True, blank=True, help_text="The event in canonical form.")
    state = models.CharField(
        max_length=20, choices=TransactionState.choices, default=TransactionState.RECEIVED
    )
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    attempts_count = models.PositiveSmallIntegerField(default=0)
    retry_round_start = models.PositiveSmallIntegerField(
        default=0,
        help_text="attempts_count when a person last retried; the budget counts from here.",
    )
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The first failed try of the current retry round: the retry budget counts from here.",
    )
    waiting_for = models.ForeignKey(
        "integrations.ConnectedSystem",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The system whose breaker is open: the work waits for it, it has not failed.",
    )
    claimed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the worker holding the claim last renewed its lease."
    )
    claim_token = models.CharField(
        max_length=32, blank=True, help_text="Whose claim this is: one per claimed chunk."
    )
    enqueued_at = models.DateTimeField(null=True, blank=True)
    error_class = models.CharField(max_length=30, choices=ErrorClass.choices, blank=True)
    error_code = models.CharField(
        max_length=64,
        blank=True,
        help_text="The business exception type, e.g. invalid_legal_entity.",
    )
    last_error = models.TextField(blank=True)
    errors = models.JSONField(
        null=True,
        blank=True,
        help_text="Field errors of a refused event, or the business values the mapping could "
        "not give (by vendor path).",
    )
    fetch = models.CharField(
        max_length=100,
        blank=True,
        help_text="The source's id of the record a thin event only names: read from the "
        "source's API when the event runs (then cleared; the payload keeps what was read).",
    )
    mapping_version = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="The version of the field mapping that read the vendor's record (0: the "
        "dialect's default).",
    )
    exception = models.ForeignKey(
        "integrations.ExceptionRecord",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="transactions",
        help_text="The business exception this transaction is blocked by.",
    )
    sla_due_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        permissions = [
            ("retry_transaction", "Can retry a transaction"),
            ("replay_transaction", "Can replay a transaction"),
            ("cancel_transaction", "Can cancel a transaction"),
        ]
        constraints = [
            # A refused request never blocks the corrected event with the same id.
            models.UniqueConstraint(
                fields=["source_system", "idempotency_key"],
                condition=~models.Q(state=TransactionState.REJECTED),
                name="transaction_idempotency_key_unique_per_source",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="tx_state_due"),
            models.Index(fields=["flow", "state"], name="tx_flow_state"),
            models.Index(fields=["state", "claimed_at"], name="tx_state_claimed"),
            models.Index(fields=["-received_at"], name="tx_received"),
            # Plain b-tree indexes: exact look-ups only, without PostgreSQL's extra LIKE index.
            models.Index(fields=["business_key"], name="tx_business_key"),
            models.Index(fields=["correlation_id"], name="tx_correlation"),
            # The reconciliation page lists the runs newest first, a few among a million.
            models.Index(
                fields=["-id"],
                condition=models.Q(event_type="reconciliation.run"),
                name="tx_reconciliation_runs",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.event_type or self.flow_id} {self.business_key}".strip()

    @property
    def state_badge(self) -> str:
        return TRANSACTION_STATE_BADGES[TransactionState(self.state)]

    @property
    def can_retry(self) -> bool:
        return self.state in RETRYABLE_STATES

    @property
    def can_cancel(self) -> bool:
        return self.state in CANCELLABLE_STATES


class Attempt(models.Model):
    """One try at a transaction: how long, how it ended, and any outbound call."""

    transaction = models.ForeignKey(Transaction, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    outcome = models.CharField(max_length=20, choices=AttemptOutcome.choices)
    error_class = models.CharField(max_length=30, choices=ErrorClass.choices, blank=True)
    error_message = models.TextField(blank=True)
    outbound_status = models.PositiveSmallIntegerField(null=True, blank=True)
    outbound_summary = models.TextField(blank=True, help_text="Status and body summary of a call.")
    worker = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["transaction_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["transaction", "number"], name="attempt_number_unique"),
        ]

    def __str__(self) -> str:
        return f"#{self.transaction_id} attempt {self.number}: {self.outcome}"
