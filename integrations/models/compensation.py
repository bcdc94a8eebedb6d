"""Compensations: the undoing of a side effect another system kept after a later step failed."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models

from canonical.classification import DataClass, Spec
from integrations.choices import (
    COMPENSATION_STATE_BADGES,
    MONEY_ACTIONS,
    CompensationAction,
    CompensationState,
)


class Compensation(models.Model):
    """A compensating action the engine proposed for one side effect in one system.

    A multi-system step half-failed for good (the ERP job was created, the PSA refused the
    project; an entry billed on a posted invoice was withdrawn): the sync state says what
    the other system kept, and this row says how to undo it, who approved it and which
    transaction executed it. One row per side effect and step (``key``), whatever the
    retries of the step that proposed it.
    """

    key = models.CharField(
        max_length=200, unique=True, help_text="The step and the side effect: proposed once."
    )
    step = models.CharField(max_length=60, help_text="The flow step whose failure it undoes.")
    action = models.CharField(max_length=30, choices=CompensationAction.choices)
    state = models.CharField(
        max_length=20, choices=CompensationState.choices, default=CompensationState.PROPOSED
    )
    system = models.ForeignKey(
        "integrations.ConnectedSystem",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The system that kept the side effect.",
    )
    record_kind = models.CharField(max_length=40, help_text="The kind of record it kept.")
    external_id = models.CharField(max_length=100, help_text="Its id there, from the sync state.")
    business_key = models.CharField(max_length=200, db_index=True)
    correlation_id = models.CharField(max_length=64, blank=True, db_index=True)
    reason = models.TextField(help_text="Why the engine proposed it.")
    details = models.JSONField(default=dict, blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    rate = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="The rate the credited hours were billed at.",
    )
    currency = models.CharField(max_length=3, blank=True)
    source_transaction = models.ForeignKey(
        "integrations.Transaction",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The transaction whose step failed (or changed what was billed).",
    )
    execution = models.ForeignKey(
        "integrations.Transaction",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The push transaction that executes it.",
    )
    result_id = models.CharField(
        max_length=100, blank=True, help_text="The id of what the execution made or changed."
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision_reason = models.TextField(blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    data_classes: ClassVar[Spec] = {
        "amount": DataClass.PRICING,
        "rate": DataClass.PRICING,
    }

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "created_at"], name="compensation_state")]
        permissions = [
            ("request_compensation", "Can ask for a compensation to be executed"),
            ("approve_compensation", "Can approve a compensation that moves money"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.business_key}"

    @property
    def moves_money(self) -> bool:
        return self.action in MONEY_ACTIONS

    @property
    def badge(self) -> str:
        return COMPENSATION_STATE_BADGES.get(self.state, "secondary")
