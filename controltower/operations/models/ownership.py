"""Who owns which exceptions, and when they work: teams, calendars and ownership rules."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models

from integrations.choices import ExceptionType, FlowKind
from integrations.crypto import EncryptedTextField


def _valid_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone (e.g. Europe/Berlin).")


def _valid_working_days(value: list) -> None:
    if not isinstance(value, list) or not value or any(d not in range(7) for d in value):
        raise ValidationError("Working days are weekday numbers 0 (Monday) to 6 (Sunday).")


def _monday_to_friday() -> list[int]:
    return [0, 1, 2, 3, 4]


class BusinessCalendar(models.Model):
    """Working hours in one time zone: the clock business-hours SLAs run on."""

    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(
        max_length=64, default="UTC", validators=[_valid_time_zone], help_text="IANA name."
    )
    working_days = models.JSONField(
        default=_monday_to_friday,
        validators=[_valid_working_days],
        help_text="Weekday numbers, 0 = Monday … 6 = Sunday.",
    )
    day_start = models.TimeField(default="09:00")
    day_end = models.TimeField(default="17:00")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(day_end__gt=models.F("day_start")),
                name="calendar_day_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.day_start and self.day_end and self.day_end <= self.day_start:
            raise ValidationError({"day_end": "The working day must end after it starts."})


class Holiday(models.Model):
    """A day off in a calendar: no business hours count on it."""

    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField()
    name = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="holiday_once_per_calendar")
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name}".strip()


class Team(models.Model):
    """People who own a queue of exceptions, with where to tell them and whom to escalate to."""

    name = models.CharField(max_length=100, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="teams")
    email = models.EmailField(blank=True, help_text="Where breach notices go.")
    # A chat webhook's URL is its credential: stored encrypted, shown only masked.
    chat_webhook_url = EncryptedTextField(
        blank=True,
        validators=[URLValidator()],
        help_text="A chat webhook (Slack or Teams style) that receives a JSON post; write-only.",
    )
    escalation_email = models.EmailField(
        blank=True, help_text="The second contact, told when a breach stays open."
    )
    escalation_webhook_url = EncryptedTextField(
        blank=True,
        validators=[URLValidator()],
        help_text="A second chat webhook for escalations; write-only.",
    )
    calendar = models.ForeignKey(
        BusinessCalendar,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="teams",
        help_text="Business hours for this team's SLAs; empty means around the clock.",
    )
    is_default = models.BooleanField(
        default=False, help_text="Catches every exception no rule routes elsewhere."
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="one_default_team"
            )
        ]

    def __str__(self) -> str:
        return self.name


class OwnershipRule(models.Model):
    """Routes exceptions matching every filled criterion to a team; the most specific rule wins.

    Specificity is the number of criteria filled (customer and legal entity weigh
    more than flow and type), then ``priority`` breaks ties, then the oldest rule.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="rules")
    exception_type = models.CharField(max_length=40, choices=ExceptionType.choices, blank=True)
    flow = models.CharField(max_length=40, choices=FlowKind.choices, blank=True)
    legal_entity = models.ForeignKey(
        "canonical.LegalEntity", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    customer = models.ForeignKey(
        "canonical.Customer", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    priority = models.PositiveSmallIntegerField(
        default=0, help_text="Breaks ties between equally specific rules; higher wins."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team__name", "id"]

    def __str__(self) -> str:
        parts = [
            self.get_exception_type_display() if self.exception_type else "",
            self.get_flow_display() if self.flow else "",
            f"entity {self.legal_entity}" if self.legal_entity_id else "",
            f"customer {self.customer}" if self.customer_id else "",
        ]
        return f"{' · '.join(p for p in parts if p) or 'anything'} → {self.team}"

    @property
    def specificity(self) -> int:
        return (
            4 * bool(self.customer_id)
            + 4 * bool(self.legal_entity_id)
            + 2 * bool(self.flow)
            + 1 * bool(self.exception_type)
        )

    def clean(self) -> None:
        if not (self.exception_type or self.flow or self.legal_entity_id or self.customer_id):
            raise ValidationError(
                "A rule needs at least one criterion; the default team catches the rest."
            )
