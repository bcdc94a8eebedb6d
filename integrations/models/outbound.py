from __future__ import annotations

from django.db import models

from integrations.choices import BREAKER_STATE_BADGES, AuthKind, BreakerState
from integrations.crypto import EncryptedTextField


class CircuitBreaker(models.Model):
    """Whether the tower is calling a connected system at the moment, and why not.

    After repeated connection errors, timeouts or 5xx answers the breaker opens: the tower
    stops calling the system, and the work that needs it waits for it (``Transaction.
    waiting_for``) instead of burning its retries. At ``probe_at`` one call goes through
    (half open); its success closes the breaker and releases the waiting work in the order
    it arrived, its failure opens it again for longer. A person may open or close it.
    """

    system = models.OneToOneField(
        "integrations.ConnectedSystem", on_delete=models.CASCADE, related_name="breaker"
    )
    state = models.CharField(
        max_length=10, choices=BreakerState.choices, default=BreakerState.CLOSED
    )
    failures = models.PositiveIntegerField(
        default=0, help_text="Failed calls in a row since the last call that worked."
    )
    opened_at = models.DateTimeField(null=True, blank=True)
    probe_at = models.DateTimeField(
        null=True, blank=True, help_text="When one call may try the system again."
    )
    probe_interval_seconds = models.FloatField(
        default=0, help_text="The wait before the next probe; it grows while probes fail."
    )
    last_error = models.TextField(blank=True)
    manual = models.BooleanField(
        default=False, help_text="Opened by a person: only a person closes it; no probe runs."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        permissions = [("operate_circuitbreaker", "Can open and close a system's breaker by hand")]

    def __str__(self) -> str:
        return f"{self.system_id}: {self.state}"

    @property
    def state_badge(self) -> str:
        return BREAKER_STATE_BADGES[BreakerState(self.state)]

    @property
    def is_open(self) -> bool:
        return self.state != BreakerState.CLOSED


class RateBucket(models.Model):
    """The outbound calls a system still allows now: a token bucket shared by every worker.

    Filled at the system's ``rate_limit_per_minute`` up to its burst; a call takes one
    token. A 429 from the system slows it to half its rate until ``slowed_until``. With
    Redis the bucket lives there (shared as fast as the workers call); this row is the
    bucket of the embedded mode and the place its settings are read from.
    """

    system = models.OneToOneField(
        "integrations.ConnectedSystem", on_delete=models.CASCADE, related_name="rate_bucket"
    )
    tokens = models.FloatField(default=0)
    refilled_at = models.DateTimeField(null=True, blank=True)
    slowed_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Until then the system is called at half its rate (it answered 429).",
    )

    def __str__(self) -> str:
        return f"{self.system_id}: {self.tokens:.1f} tokens"


class OutboundAuth(models.Model):
    """How the tower authenticates when it calls a system: the kind, and its credentials.

    Secrets (``secret``) are stored encrypted and never shown back: pages, the API and the
    audit log say whether one is set. What each field means by kind:

    ========  ==============================  ==================================
    kind      ``username``                    ``secret``
    ========  ==============================  ==================================
    api_key   —                               the key, sent in ``header_name``
    basic     the user                        the password
    oauth2    the client id                   the client secret (token from ``token_url``)
    harvest   the account id                  the personal access token
    ========  ==============================  ==================================
    """

    system = models.OneToOneField(
        "integrations.ConnectedSystem", on_delete=models.CASCADE, related_name="outbound_auth"
    )
    kind = models.CharField(max_length=10, choices=AuthKind.choices, default=AuthKind.NONE)
    username = models.CharField(
        max_length=200, blank=True, help_text="The user, the OAuth client id or the account id."
    )
    secret = EncryptedTextField(
        blank=True, help_text="The key, password, client secret or token: write-only."
    )
    header_name = models.CharField(
        max_length=100, blank=True, default="X-Api-Key", help_text="API key: the header it goes in."
    )
    header_prefix = models.CharField(
        max_length=20, blank=True, help_text='API key: what comes before it, e.g. "Bearer ".'
    )
    token_url = models.CharField(
        max_length=500,
        blank=True,
        help_text="OAuth 2.0: the token endpoint; a path (/services/...) is on the system's base URL.",
    )
    scope = models.CharField(max_length=500, blank=True, help_text="OAuth 2.0: scopes, if any.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "outbound authentication"
        verbose_name_plural = "outbound authentication"

    def __str__(self) -> str:
        return f"{self.system_id}: {self.get_kind_display()}"


class AccessToken(models.Model):
    """The OAuth 2.0 access token a system issued to the tower, shared by every worker until
    shortly before it expires; one worker fetches the next (``credentials.access_token``)."""

    system = models.OneToOneField(
        "integrations.ConnectedSystem", on_delete=models.CASCADE, related_name="access_token"
    )
    token = EncryptedTextField()
    expires_at = models.DateTimeField()
    obtained_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.system_id}: until {self.expires_at:%H:%M:%S}"
