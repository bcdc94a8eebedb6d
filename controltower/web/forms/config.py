"""Forms of the tower's own pages. They check input; saving goes through the services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.db import models

from canonical.errors import ApplicationError
from canonical.models import Customer, LegalEntity
from controltower.operations.models import (
    BusinessCalendar,
    Holiday,
    MaintenanceWindow,
    OwnershipRule,
    PeriodClose,
    SlaPolicy,
    Team,
)
from integrations.crypto import secret_url_mask

WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]


class DateTimeLocalInput(forms.DateTimeInput):
    """The browser's date-and-time picker; the value is read in the reader's time zone."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%H:%M")


def _formfield(field: models.Field, **kwargs: Any) -> forms.Field | None:
    if isinstance(field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")  # a webhook without a scheme is https
    return field.formfield(**kwargs)


class NoColon:
    """Labels without a trailing colon; the required ones get their mark from the stylesheet."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class ConfigMeta:
    formfield_callback = _formfield


class ConfigForm(NoColon, forms.ModelForm):
    """A configuration form: the model's fields, plus why the change is made (for the audit log)."""

    required_css_class = "required"

    change_reason = forms.CharField(
        label="Reason for this change",
        required=False,
        max_length=500,
        help_text="Kept in the audit log beside the before and after.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def many_to_many(self) -> dict[str, Any]:
        """The cleaned many-to-many values, which the service sets after saving the row."""
        return {
            f.name: self.cleaned_data[f.name]
            for f in self._meta.model._meta.many_to_many
            if f.name in self.cleaned_data
        }

    def add_application_error(self, error: ApplicationError) -> None:
        """Shows a service's refusal on the form: each message beside its field, the rest on top."""
        placed = False
        for name, messages in error.errors.items():
            target = name if name in self.fields else None
            for message in messages:
                if message not in self.errors.get(target or "__all__", []):
                    self.add_error(target, message)
                    placed = True
        if not placed:
            self.add_error(None, error.message)


class WriteOnlyUrlField(forms.URLField):
    """A secret URL typed in, never shown back: empty keeps the one stored."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("assume_scheme", "https")  # a webhook without a scheme is https
        super().__init__(
            required=False,
            max_length=2000,
            widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
            **kwargs,
        )


class TeamForm(ConfigForm):
    # Webhook URLs are credentials: the form never shows them, only whether one is set.
    SECRET_URLS = ("chat_webhook_url", "escalation_webhook_url")

    chat_webhook_url = WriteOnlyUrlField(label="Chat webhook URL")
    clear_chat_webhook_url = forms.BooleanField(required=False, label="Remove the chat webhook")
    escalation_webhook_url = WriteOnlyUrlField(label="Escalation webhook URL")
    clear_escalation_webhook_url = forms.BooleanField(
        required=False, label="Remove the escalation webhook"
    )
    members = forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="People who work this team's queue.",
    )

    class Meta(ConfigMeta):
        model = Team
        fields = [
            "name",
            "email",
            "chat_webhook_url",
            "escalation_email",
            "escalation_webhook_url",
            "calendar",
            "is_default",
            "members",
        ]
        labels = {"escalation_email": "Escalation email", "is_default": "Default team"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["calendar"].empty_label = "None: around the clock"
        for name in self.SECRET_URLS:
            self.initial[name] = ""
            stored = getattr(self.instance, name)
            field = self.fields[name]
            if stored:
                field.widget.attrs["placeholder"] = secret_url_mask(stored)
                field.help_text = (
                    f"Set ({secret_url_mask(stored)}); type a new URL to replace it, "
                    "or leave it empty to keep it."
                )
            else:
                field.help_text = "Not set."
                self.fields.pop(f"clear_{name}")
        self.order_fields(
            [
                "name",
                "email",
                "chat_webhook_url",
                "clear_chat_webhook_url",
                "escalation_email",
                "escalation_webhook_url",
                "clear_escalation_webhook_url",
            ]
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for name in self.SECRET_URLS:
            if cleaned.get(f"clear_{name}"):
                cleaned[name] = ""
            elif not cleaned.get(name):
                cleaned[name] = getattr(self.instance, name)  # empty keeps the stored one
        return cleaned

    def clean_is_default(self) -> bool:
        is_default = self.cleaned_data["is_default"]
        if is_default:
            other = Team.objects.filter(is_default=True).exclude(pk=self.instance.pk).first()
            if other is not None:
                raise forms.ValidationError(
                    f"{other} is the default team already; untick it there first."
                )
        return is_default


class CustomerNumberField(forms.ModelChoiceField):
    """A customer typed by its number: a firm has too many customers for a select."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            queryset=Customer.objects.all(),
            to_field_name="number",
            widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
            error_messages={"invalid_choice": "No customer has the number %(value)s."},
            **kwargs,
        )

    def to_python(self, value: Any) -> Customer | None:
        return super().to_python(value.strip().upper() if isinstance(value, str) else value)


class OwnershipRuleForm(ConfigForm):
    legal_entity = forms.ModelChoiceField(
        queryset=LegalEntity.objects.order_by("code"), required=False, empty_label="Any"
    )
    customer = CustomerNumberField(
        required=False,
        help_text="Its number, for example C-1001. Empty matches every customer.",
    )

    class Meta(ConfigMeta):
        model = OwnershipRule
        fields = [
            "team",
            "exception_type",
            "flow",
            "legal_entity",
            "customer",
            "priority",
            "active",
        ]
        help_texts = {
            "exception_type": "Empty matches every type.",
            "flow": "Empty matches every flow.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.customer_id and not self.is_bound:
            self.initial["customer"] = self.instance.customer.number
        for name in ("exception_type", "flow"):
            choices = list(self.fields[name].choices)
            self.fields[name].choices = [("", "Any"), *[c for c in choices if c[0]]]
        self.fields["priority"].required = False

    def clean_priority(self) -> int:
        return self.cleaned_data.get("priority") or 0


class BusinessCalendarForm(ConfigForm):
    working_days = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        help_text="The days business hours count on.",
    )

    class Meta(ConfigMeta):
        model = BusinessCalendar
        fields = ["name", "time_zone", "working_days", "day_start", "day_end"]
        widgets = {"day_start": TimeInput(), "day_end": TimeInput()}
        help_texts = {"time_zone": "An IANA name, for example Europe/Berlin or America/New_York."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].widget.attrs["list"] = "time-zones"


class HolidayForm(NoColon, forms.ModelForm):
    required_css_class = "required"

    class Meta(ConfigMeta):
        model = Holiday
        fields = ["date", "name"]
        widgets = {"date": DateInput()}


class SlaPolicyForm(ConfigForm):
    class Meta(ConfigMeta):
        model = SlaPolicy
        fields = [
            "name",
            "kind",
            "flow",
            "event_type",
            "exception_type",
            "severity",
            "target_minutes",
            "business_hours",
            "at_risk_share",
            "escalate_after_minutes",
            "team",
            "active",
        ]
        labels = {
            "target_minutes": "Target (minutes)",
            "at_risk_share": "At risk after (share of target)",
            "escalate_after_minutes": "Escalate after (minutes)",
            "team": "Team told of flow breaches",
        }
        help_texts = {
            "target_minutes": "480 is a working day of 8 hours; 1440 is 24 hours.",
            "flow": "Required for a flow SLA.",
            "exception_type": "For an exception SLA: a type, a flow, a severity, any of them "
            "or none (the default). Each exception is timed by the most specific one.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].empty_label = "None: route by the ownership rules"
        kinds = [c for c in self.fields["kind"].choices if c[0]]
        self.fields["kind"].choices = [("", "Choose flow or exception"), *kinds]
        for name in ("flow", "exception_type", "severity"):
            self.fields[name].choices = [
                ("", "Any"),
                *[c for c in self.fields[name].choices if c[0]],
            ]


class MaintenanceWindowForm(ConfigForm):
    class Meta(ConfigMeta):
        model = MaintenanceWindow
        fields = ["name", "starts_at", "ends_at", "team", "reason"]
        widgets = {"starts_at": DateTimeLocalInput(), "ends_at": DateTimeLocalInput()}
        labels = {"reason": "Why (shown to the team)", "team": "Team"}
        help_texts = {"starts_at": "In your time zone.", "ends_at": "In your time zone."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("starts_at", "ends_at"):
            self.fields[name].input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        self.fields["team"].empty_label = "Everyone"


class PeriodCloseForm(ConfigForm):
    class Meta(ConfigMeta):
        model = PeriodClose
        fields = ["closes_on", "name", "lead_days"]
        widgets = {"closes_on": DateInput()}
        labels = {"closes_on": "Closes on", "lead_days": "Escalate billing breaches (days before)"}


class RerouteForm(NoColon, forms.Form):
    required_css_class = "required"

    reason = forms.CharField(
        max_length=500,
        label="Reason",
        help_text="Kept in the audit log on every exception that moves.",
    )


class RejudgeForm(RerouteForm):
    reason = forms.CharField(
        max_length=500,
        label="Reason",
        help_text="Kept in the audit log on every exception whose policy or due time changes.",
    )
