from __future__ import annotations

from django.db import models

from integrations.choices import BREAKER_STATE_BADGES, BreakerState


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
