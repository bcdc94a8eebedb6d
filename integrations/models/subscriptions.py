from __future__ import annotations

import uuid

from django.db import models

from integrations.choices import DELIVERY_STATE_BADGES, DeliveryState, EventType
from integrations.crypto import EncryptedTextField


class Subscription(models.Model):
    """An endpoint outside the tower that receives the events it subscribed to, signed.

    Each event is POSTed to ``url`` signed with ``secret`` (the tower's own inbound scheme,
    ``integrations.signatures``), in order per record, at least once. After
    ``CT_OUTBOUND_DISABLE_AFTER`` failed tries in a row the tower disables it and tells
    ``owner_team``; enabling it again resumes the backlog where it stopped.
    """

    name = models.CharField(max_length=100, unique=True)
    url = models.URLField(max_length=500, help_text="Where the events are POSTed.")
    event_types = models.JSONField(
        default=list, help_text="The event types it receives, e.g. contract.signed."
    )
    secret = EncryptedTextField(help_text="The signing secret: shown once, when it is made.")
    owner_team = models.CharField(
        max_length=100,
        blank=True,
        help_text="The team told when the tower disables the subscription.",
    )
    enabled = models.BooleanField(default=True)
    disabled_reason = models.TextField(blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(
        default=0, help_text="Failed tries in a row since the last delivery that worked."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def receives(self, event_type: str) -> bool:
        return event_type in self.event_types

    def event_type_labels(self) -> list[str]:
        return [str(EventType(value).label) for value in self.event_types if value in EventType]


class OutboxEvent(models.Model):
    """One change of canonical state, written in the database transaction that made it.

    ``sequence`` numbers the events of one record (``record_key``) from 1; subscribers get
    them in that order. ``dedupe_key`` makes publication idempotent: a flow that runs again
    after a crash publishes the same change once.
    """

    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event_type = models.CharField(max_length=40, choices=EventType.choices)
    record_key = models.CharField(max_length=150, help_text="e.g. contract:C-1001")
    sequence = models.PositiveIntegerField()
    dedupe_key = models.CharField(max_length=300, unique=True)
    payload = models.JSONField(default=dict)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["record_key", "sequence"], name="outbox_event_sequence_per_record"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.record_key} #{self.sequence}"


class Delivery(models.Model):
    """One event on its way to one subscription: tried until the endpoint takes it.

    ``record_key`` and ``sequence`` repeat the event's so that the next event of a record
    is held while an earlier one is undelivered (``deliveries_due``).
    """

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    record_key = models.CharField(max_length=150)
    sequence = models.PositiveIntegerField()
    state = models.CharField(
        max_length=20, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(
        null=True, blank=True, help_text="When a worker took it to send; a lease."
    )
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    response_excerpt = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "deliveries"
        permissions = [("replay_delivery", "Can send an event to a subscription again")]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "event"], name="one_delivery_per_subscription_event"
            )
        ]
        indexes = [
            models.Index(fields=["subscription", "record_key", "sequence"]),
            models.Index(fields=["state", "next_attempt_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.subscription_id}"

    @property
    def state_badge(self) -> str:
        return DELIVERY_STATE_BADGES[DeliveryState(self.state)]


class DeliveryAttempt(models.Model):
    """One POST of a delivery: when, how long, and what the endpoint answered."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    ok = models.BooleanField(default=False)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    response_excerpt = models.TextField(blank=True)

    class Meta:
        ordering = ["delivery_id", "number"]

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number}"
