"""The simulator's own state: one row per simulated system, the records it holds, the
requests it received (its request log), and what it must remember between requests to
behave as the vendor: external ids being upserted, idempotency keys, access tokens.

These tables belong to the simulator only; the tower never reads them. A
``SimulatedSystem`` row is created on first use, so no data migration is needed.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from simulator.choices import AuthMode, SimulatedSystemSlug
from simulator.faults import (
    KNOB_DEFAULTS,
    MAX_RATE_LIMIT,
    MAX_TOKEN_TTL_SECONDS,
    auth_mode_check,
    reject_rules_validate,
)


class SimulatedSystem(models.Model):
    """A simulated ERP, PSA, CRM or CLM and its knobs: faults, rate limit, credentials.

    The knobs apply to every call of the system's simulated API (not to the
    ``_faults``, ``_reset``, ``_emit`` and ``_requests`` control endpoints).
    """

    slug = models.SlugField(max_length=10, unique=True, choices=SimulatedSystemSlug.choices)
    latency_ms = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(60_000)],
        help_text="Every call waits this long before it answers.",
    )
    error_rate = models.FloatField(
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Share of calls (0 to 1) that answer 500.",
    )
    throttle = models.BooleanField(
        default=False, help_text="Every call answers 429 with a Retry-After header."
    )
    retry_after_seconds = models.PositiveIntegerField(
        default=1,
        validators=[MaxValueValidator(3600)],
        help_text="The Retry-After a throttled call carries.",
    )
    outage = models.BooleanField(default=False, help_text="Every call answers 503.")
    pay_after_seconds = models.PositiveIntegerField(
        default=60,
        help_text="ERP: an invoice reads as paid in full this long after it was created; "
        "0 = never.",
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(MAX_RATE_LIMIT)],
        help_text="At most this many calls in any 60 seconds; more answer 429 with "
        "Retry-After. 0 = no limit.",
    )
    rate_limit_burst = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(MAX_RATE_LIMIT)],
        help_text="At most this many calls in any one second; more answer 429. 0 = no limit.",
    )
    auth = models.CharField(
        max_length=10,
        choices=AuthMode.choices,
        default=AuthMode.NONE,
        help_text="The credentials every call must carry: ERP none or oauth2; PSA, CRM, "
        "CLM none, api_key or basic; HRIS none or basic_key; Harvest none or harvest. Off "
        "(none) until the tower sends credentials.",
    )
    token_ttl_seconds = models.PositiveIntegerField(
        default=3600,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_TOKEN_TTL_SECONDS)],
        help_text="ERP: how long an OAuth 2.0 access token lasts once issued.",
    )
    reject = models.JSONField(
        default=list,
        blank=True,
        help_text='Rules refusing a create or update with 400, e.g. [{"record": "invoice", '
        '"field": "taxCode", "value": "XX", "message": "Invalid tax code"}]. Without '
        '"value" any value of the field is refused.',
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    def clean(self) -> None:
        problems: dict[str, list[str]] = {}
        errors = reject_rules_validate(system=self.slug, rules=self.reject)
        if errors:
            problems["reject"] = [
                f"{path}: {'; '.join(messages)}" for path, messages in errors.items()
            ]
        if message := auth_mode_check(system=self.slug, mode=self.auth):
            problems["auth"] = [message]
        if problems:
            raise ValidationError(problems)

    def knobs(self) -> dict[str, Any]:
        """The knobs as the ``_faults`` API shows them."""

        return {name: getattr(self, name) for name in KNOB_DEFAULTS}


class SimulatedRecord(models.Model):
    """One record held by a simulated system: an ERP invoice, a PSA project, a CRM account.

    The numeric id the system hands out is the primary key. ``idempotency_key`` is the
    idempotency key header of the creating request, kept for inspection. The ERP answers
    a POST repeating a key from ``IdempotencyKey`` before it would make a second record;
    the PSA, CRM and CLM never de-duplicate on it, so a duplicate sent there shows.
    """

    system = models.ForeignKey(SimulatedSystem, on_delete=models.CASCADE, related_name="records")
    kind = models.CharField(max_length=40, help_text="invoice, job, project, time_entry, ...")
    external_id = models.CharField(max_length=200, blank=True)
    idempotency_key = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["system", "kind", "external_id"], name="simrecord_external_id"),
            models.Index(fields=["system", "kind", "updated_at"], name="simrecord_changed"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk}"


class DeletedRecord(models.Model):
    """A record deleted from a simulated system, kept by its id and the moment it went.

    BambooHR's "Get Changed Employee IDs" names the employees deleted since a moment
    (``"action": "Deleted"``); the simulated HRIS answers them from these rows, since the
    record itself is gone. ``_reset`` deletes them with the records.
    """

    system = models.ForeignKey(
        SimulatedSystem, on_delete=models.CASCADE, related_name="deleted_records"
    )
    kind = models.CharField(max_length=40)
    record_id = models.PositiveBigIntegerField(help_text="The id the record had.")
    deleted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["system", "kind", "deleted_at"], name="simdeleted_changed"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.record_id} (deleted)"


class SimulatedRequest(models.Model):
    """One request a simulated system received on its vendor API: its request log.

    Control endpoints (``_faults``, ``_reset``, ``_emit``, ``_requests``) are not logged.
    The row is written when the request arrives and completed with its status when it is
    answered, so that the rate limit counts the requests still in flight.
    ``admitted_at`` is when the rate limit let the request through; a request refused
    before that (an outage, bad credentials, the rate limit itself) has none and does
    not count against the limit.
    """

    system = models.ForeignKey(SimulatedSystem, on_delete=models.CASCADE, related_name="requests")
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    query = models.TextField(blank=True, help_text="The query string as sent.")
    idempotency_key = models.CharField(max_length=200, blank=True)
    status = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The status answered; empty while in flight."
    )
    received_at = models.DateTimeField(default=timezone.now)
    admitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["system", "received_at"], name="simrequest_received"),
            models.Index(fields=["system", "admitted_at"], name="simrequest_admitted"),
            models.Index(fields=["received_at"], name="simrequest_age"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status or '…'}"


class ExternalIdClaim(models.Model):
    """An external id an ERP upsert has claimed for a record kind: the lock two upserts meet on.

    NetSuite's upsert (``PUT .../<kind>/eid:<externalId>``) creates the record when no
    record of that kind has the external id. Two such PUTs at once would both find none;
    the unique constraint lets one of them claim the external id, and the other waits
    for it (``select_for_update``) and then updates the record the first one made. A plain
    POST takes no claim, so it may still create a second record with the same external id.
    The row outlives its record: it is only a lock.
    """

    system = models.ForeignKey(
        SimulatedSystem, on_delete=models.CASCADE, related_name="external_id_claims"
    )
    kind = models.CharField(max_length=40)
    external_id = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["system", "kind", "external_id"], name="simclaim_one_per_external_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} eid:{self.external_id}"


class IdempotencyKey(models.Model):
    """An idempotency key the simulated ERP saw on a POST, and the answer that POST got.

    A POST repeating the key within 24 hours is answered the same (status, ``Location``,
    body) and creates nothing. Only an answered create is kept: a refused POST leaves no
    key, so that a corrected retry under the same key goes through. The PSA, CRM and CLM
    keep none. Rows older than 24 hours are pruned.
    """

    system = models.ForeignKey(
        SimulatedSystem, on_delete=models.CASCADE, related_name="idempotency_keys"
    )
    key = models.CharField(max_length=200)
    status = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The status answered; empty until it is."
    )
    location = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["system", "key"], name="simidempotency_one_per_key")
        ]

    def __str__(self) -> str:
        return self.key


class AccessToken(models.Model):
    """An OAuth 2.0 access token the simulated ERP issued to a client (client credentials).

    Only the token's SHA-256 is kept. A call carrying ``Authorization: Bearer <token>``
    is let in while ``expires_at`` is ahead; expired rows are pruned as new ones are issued.
    """

    system = models.ForeignKey(
        SimulatedSystem, on_delete=models.CASCADE, related_name="access_tokens"
    )
    token_sha256 = models.CharField(max_length=64, unique=True)
    client_id = models.CharField(max_length=200)
    issued_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.client_id} until {self.expires_at:%Y-%m-%d %H:%M:%S}"
