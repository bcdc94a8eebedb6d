from __future__ import annotations

import os
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from integrations.choices import Adapter, Domain, FlowKind, SystemKind
from integrations.crypto import EncryptedTextField


class ConnectedSystem(models.Model):
    """A system the tower talks to (a CRM, a CLM, a PSA, an ERP, ...).

    The inbound signing secret is the one an admin set or rotated in the tower, stored
    encrypted; the previous one stays valid until ``previous_signing_secrets_until``.
    Until one is set there, it is read from the environment variable named by
    ``secret_env``, which may hold several comma-separated secrets.
    """

    slug = models.SlugField(max_length=50, unique=True, help_text="Used in the inbound URL.")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=SystemKind.choices)
    adapter = models.CharField(
        max_length=30,
        choices=Adapter.choices,
        default=Adapter.CANONICAL,
        help_text="The payload dialect this system speaks.",
    )
    base_url = models.URLField(blank=True, help_text="Where the tower calls this system.")
    secret_env = models.CharField(
        max_length=100,
        blank=True,
        help_text="Environment variable holding the inbound signing secret(s), comma-separated "
        "while rotating. Defaults to CT_SECRET_<SLUG>.",
    )
    signing_secret = EncryptedTextField(
        blank=True,
        help_text="The inbound signing secret set in the tower; write-only. Empty: the "
        "environment's.",
    )
    previous_signing_secrets = EncryptedTextField(
        blank=True, help_text="The secrets a rotation replaced, one a line; write-only."
    )
    previous_signing_secrets_until = models.DateTimeField(
        null=True, blank=True, help_text="Until when the replaced secrets still verify."
    )
    signing_secret_rotated_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(
        default=True, help_text="A disabled system's inbound events are refused (409)."
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Outbound calls per minute; empty for no limit."
    )
    rate_limit_burst = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Calls that may go at once after a quiet spell; empty for a sixth of the minute's.",
    )
    inbound_requests_per_minute = models.PositiveIntegerField(
        default=600,
        help_text="Inbound requests (a batch counts once) this system may send per minute; more "
        "are answered 429 with Retry-After before they are parsed or stored. 0 for no limit.",
    )
    retry_budget_hours = models.FloatField(
        null=True,
        blank=True,
        help_text="How long work that fails on this system (timeouts, 5xx, 429) is retried before "
        "it goes to the dead-letter queue; empty for the tower's default (24 h). Time waiting "
        "behind an open breaker does not count.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]
        permissions = [("test_connectedsystem", "Can test a system's connection")]

    def __str__(self) -> str:
        return self.slug

    @property
    def retry_budget(self) -> timedelta:
        hours = self.retry_budget_hours
        return timedelta(hours=settings.CT_RETRY_BUDGET_HOURS if hours is None else hours)

    @property
    def secret_env_name(self) -> str:
        return self.secret_env or f"CT_SECRET_{self.slug.upper().replace('-', '_')}"

    def current_signing_secrets(self) -> list[str]:
        """The secrets senders are meant to sign with now: the tower's, else the
        environment's, else (in demo mode only) the demo secret."""
        if self.signing_secret:
            return [self.signing_secret]
        raw = os.environ.get(self.secret_env_name, "")
        secrets = [item.strip() for item in raw.split(",") if item.strip()]
        if not secrets and settings.DEMO:
            secrets = [f"demo-{self.slug}-secret"]
        return secrets

    @property
    def signing_secret_source(self) -> str:
        """Where the current secret comes from: ``tower``, ``environment``, ``demo`` or ``none``."""
        if self.signing_secret:
            return "tower"
        if any(item.strip() for item in os.environ.get(self.secret_env_name, "").split(",")):
            return "environment"
        return "demo" if settings.DEMO else "none"

    def previous_secrets_valid(self, now: datetime | None = None) -> bool:
        until = self.previous_signing_secrets_until
        return bool(self.previous_signing_secrets and until and until > (now or timezone.now()))

    def inbound_secrets(self, now: datetime | None = None) -> list[str]:
        """The secrets a signature may match: the current ones, and those a rotation replaced
        while their grace period lasts."""
        secrets = self.current_signing_secrets()
        if self.previous_secrets_valid(now):
            secrets += [s for s in self.previous_signing_secrets.splitlines() if s]
        return secrets


class Flow(models.Model):
    """One integration process, with its queue and retry policy.

    A paused flow accepts and stores events but does not process them until resumed.
    """

    kind = models.CharField(max_length=40, choices=FlowKind.choices, unique=True)
    name = models.CharField(max_length=100)
    paused = models.BooleanField(default=False)
    max_attempts = models.PositiveSmallIntegerField(
        default=8, help_text="After this many failed attempts a transaction is dead."
    )
    backoff_base_seconds = models.FloatField(
        default=2.0, help_text="Backoff before retry n is drawn from [0, min(cap, base * 2^(n-1))]."
    )
    backoff_cap_seconds = models.FloatField(default=600.0)
    sla_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Time from receipt to success before the SLA is breached."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind"]
        permissions = [("pause_flow", "Can pause and resume a flow")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(max_attempts__gte=1), name="flow_max_attempts_at_least_one"
            ),
            models.CheckConstraint(
                condition=models.Q(backoff_base_seconds__gt=0)
                & models.Q(backoff_cap_seconds__gte=models.F("backoff_base_seconds")),
                name="flow_backoff_positive_and_capped",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def queue(self) -> str:
        return f"flow.{self.kind}"


class SystemOfRecord(models.Model):
    """The one system that owns a kind of business data.

    An update of that data from any other system is not applied: it raises a
    ``non_owner_update`` exception. A domain with no owner accepts every system.
    """

    domain = models.CharField(max_length=20, choices=Domain.choices, unique=True)
    system = models.ForeignKey(
        ConnectedSystem, on_delete=models.PROTECT, related_name="owned_domains"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["domain"]
        verbose_name = "system of record"
        verbose_name_plural = "systems of record"

    def __str__(self) -> str:
        return f"{self.get_domain_display()}: {self.system.slug}"
