"""Forms of the engine's pages. They check input; the services decide and act."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from canonical.errors import ApplicationError
from canonical.validators import unstorable_text
from controltower.web.forms.config import DateTimeLocalInput, NoColon
from integrations.choices import AuthKind, EventType, ImportKind
from integrations.models import ConnectedSystem

REASON_HELP = "Kept in the audit log with who did it and when."


def _reason(required: bool, label: str = "Reason") -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        max_length=500,
        help_text=REASON_HELP,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class ActionForm(NoColon, forms.Form):
    """A form whose service may refuse: the refusal is shown on it, beside its field."""

    required_css_class = "required"

    def add_application_error(self, error: ApplicationError) -> None:
        """Each field error beside its field (``payload.data.customer`` beside the payload);
        the message on top when no field is named."""
        placed = False
        for name, messages in error.errors.items():
            target = self._field_of(name)
            if target is None:
                continue
            rest = name[len(target) :].lstrip(".")
            for message in messages:
                self.add_error(target, f"{rest}: {message}" if rest else message)
                placed = True
        if not placed:
            self.add_error(None, error.message)

    def _field_of(self, name: str) -> str | None:
        head = name.split(".", 1)[0].split("[", 1)[0]
        return head if head in self.fields else None


class ReasonForm(ActionForm):
    reason = _reason(required=False)


class RequiredReasonForm(ActionForm):
    reason = _reason(required=True)


class ReplayForm(ActionForm):
    """Replay as received, or with the normalized event edited (``edit`` set)."""

    edit = forms.BooleanField(required=False, widget=forms.HiddenInput)
    payload = forms.CharField(
        label="Edited normalized event (JSON)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 16, "spellcheck": "false", "class": "code"}),
        help_text="The whole canonical event: type, id, version and data. It is checked "
        "against the event's schema before anything runs.",
    )
    reason = _reason(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("edit"):
            text = (data.get("payload") or "").strip()
            if not text:
                self.add_error("payload", "Paste the edited event, or replay it as received.")
                return data
            try:
                data["payload_value"] = json.loads(text)
            except json.JSONDecodeError as exc:
                self.add_error(
                    "payload",
                    f"This is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
                )
                return data
            if (found := unstorable_text(data["payload_value"])) is not None:
                path, problem = found
                self.add_error("payload", f"{path or 'The event'}: {problem}")
        return data


class BulkRetryForm(ActionForm):
    reason = _reason(required=True)


class FlowToggleForm(ActionForm):
    reason = _reason(required=False, label="Reason (optional)")


class BreakerForm(ActionForm):
    state = forms.ChoiceField(choices=[("open", "Open"), ("closed", "Closed")])
    reason = _reason(required=False, label="Reason (optional)")


class RepushForm(ActionForm):
    system = forms.ChoiceField(label="System")
    reason = _reason(required=False)

    def __init__(self, *args: Any, systems: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["system"].choices = [(s.slug, s.name) for s in systems]


class RecordLinkForm(ActionForm):
    system = forms.ChoiceField(label="System")
    external_id = forms.CharField(
        label="User id there",
        max_length=100,
        help_text="The person's id in that system, e.g. the Harvest user id 4120587.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def __init__(self, *args: Any, systems: list[Any], kind: str = "resource", **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["system"].choices = [(s.slug, s.name) for s in systems]
        if kind == "project":
            self.fields["external_id"].label = "Project id there"
            self.fields[
                "external_id"
            ].help_text = "The project's id in that system, e.g. the Harvest project id 14308069."


class RecordLookupForm(NoColon, forms.Form):
    kind = forms.ChoiceField(label="Kind of record")
    key = forms.CharField(
        label="Business key",
        max_length=100,
        help_text="Contract no., project code, employee no., time entry no. or invoice no.",
    )

    def __init__(self, *args: Any, kinds: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = kinds


class ConnectionForm(ActionForm):
    """How the tower authenticates to a system. The secret is write-only: the form never shows
    it back, and left empty it keeps the stored one."""

    kind = forms.ChoiceField(label="Authentication", choices=AuthKind.choices)
    username = forms.CharField(
        label="User, client id or account id",
        required=False,
        max_length=200,
        help_text="HTTP Basic: the user. OAuth 2.0: the client id. Harvest: the account id.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    secret = forms.CharField(
        label="Secret",
        required=False,
        max_length=4000,
        strip=False,
        help_text="The key, password, client secret or token. Stored encrypted and never shown "
        "again; leave empty to keep the stored one.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=False),
    )
    header_name = forms.CharField(
        label="Header", required=False, max_length=100, help_text="API key: the header it goes in."
    )
    header_prefix = forms.CharField(
        label="Header prefix",
        required=False,
        max_length=20,
        strip=False,
        help_text='API key: what comes before it, e.g. "Bearer ".',
    )
    token_url = forms.CharField(
        label="Token endpoint",
        required=False,
        max_length=500,
        help_text="OAuth 2.0: the token URL; a path (/services/...) is on the system's base URL.",
    )
    scope = forms.CharField(
        label="Scopes",
        required=False,
        max_length=500,
        help_text="OAuth 2.0: if the system wants any.",
    )
    reason = _reason(required=False, label="Reason (optional)")


class MappingForm(ActionForm):
    """A mapping document to save, try or publish, and what to try it on."""

    document = forms.CharField(
        label="Mapping",
        max_length=200_000,
        strip=False,
        help_text='JSON: "when" (the records to take) and "fields" (each canonical field, its '
        "vendor path and transform).",
        widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false", "class": "code"}),
    )
    note = forms.CharField(label="Note", required=False, max_length=500)
    sample = forms.CharField(
        label="Sample payload",
        required=False,
        max_length=1_000_000,
        strip=False,
        help_text="A body as the system sends it (optional).",
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "class": "code"}),
    )
    transactions = forms.TypedMultipleChoiceField(
        label="Received payloads", required=False, coerce=int, widget=forms.CheckboxSelectMultiple
    )
    reason = _reason(required=False, label="Reason (optional)")

    def __init__(self, *args: Any, samples: list[Any] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["transactions"].choices = [
            (tx.pk, f"#{tx.pk} {tx.event_type} {tx.business_key} ({tx.state})") for tx in samples
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        text = data.get("document")
        if text is not None:
            try:
                data["document_value"] = json.loads(text)
            except json.JSONDecodeError as exc:
                self.add_error(
                    "document", f"Not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}."
                )
        return data


class SigningSecretRotateForm(ActionForm):
    """A new inbound signing secret: typed in, or generated by the tower when left empty."""

    secret = forms.CharField(
        label="New secret",
        required=False,
        max_length=500,
        strip=False,
        help_text="Leave empty and the tower generates one. Shown once, after the rotation.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=False),
    )
    reason = forms.CharField(label="Reason", required=False, max_length=2000)


class ApiTokenForm(ActionForm):
    """A new API token: what it is for and how long it lasts."""

    name = forms.CharField(label="What it is for", max_length=100)
    days = forms.IntegerField(
        label="Expires after (days)",
        min_value=1,
        max_value=3650,
        help_text="The key stops working then; make a new token before.",
    )
    user = forms.CharField(
        label="For user",
        required=False,
        max_length=150,
        help_text="An admin may make a token for another user (a machine account).",
    )


class PollerForm(ActionForm):
    """How a poller runs (an admin). The cursor is moved in the API only."""

    enabled = forms.BooleanField(label="Enabled", required=False)
    interval_seconds = forms.IntegerField(
        label="Every (seconds)", min_value=10, help_text="How often beat runs it."
    )
    overlap_seconds = forms.IntegerField(
        label="Overlap (seconds)",
        min_value=0,
        help_text="Each run reads again what changed this long before the cursor.",
    )
    page_size = forms.IntegerField(label="Page size", min_value=1, max_value=1000)
    reason = _reason(required=False)


class ImportForm(ActionForm):
    """A batch import: the file, what it holds, where it comes from, and how it runs."""

    kind = forms.ChoiceField(label="The file holds", choices=ImportKind.choices)
    file = forms.FileField(
        label="File",
        help_text="CSV with a header row of canonical field names, or JSON Lines (.jsonl).",
    )
    system = forms.ModelChoiceField(
        label="From system",
        queryset=ConnectedSystem.objects.order_by("slug"),
        to_field_name="slug",
        required=False,
        empty_label="The system of record of this data",
        help_text="The history is stored as this system's events.",
    )
    dry_run = forms.BooleanField(
        label="Dry run",
        required=False,
        initial=True,
        help_text="Check and classify every row; write nothing.",
    )
    push_downstream = forms.BooleanField(
        label="Create the records in the ERP and the PSA",
        required=False,
        initial=True,
        help_text="Off: match the records those systems already hold and record the sync state.",
    )


class SubscriptionForm(ActionForm):
    """An endpoint that receives the tower's events: checked by ``subscription_create`` /
    ``subscription_change``."""

    name = forms.CharField(max_length=100)
    url = forms.URLField(
        label="Endpoint URL",
        max_length=500,
        assume_scheme="https",
        help_text="Each event is POSTed here, signed with the subscription's secret.",
    )
    event_types = forms.MultipleChoiceField(
        label="Events",
        choices=EventType.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    owner_team = forms.ChoiceField(
        label="Owning team",
        required=False,
        help_text="Told when the tower disables the subscription after failed deliveries.",
    )
    reason = _reason(required=False)

    def __init__(self, *args: Any, teams: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner_team"].choices = [("", "The default team"), *((t, t) for t in teams)]


class ReplayRangeForm(ActionForm):
    since = forms.DateTimeField(label="Published from", widget=DateTimeLocalInput())
    until = forms.DateTimeField(label="to before", widget=DateTimeLocalInput())
    reason = _reason(required=False)
