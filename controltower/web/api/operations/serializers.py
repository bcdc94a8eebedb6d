"""Serializers of the operations layer.

Configuration serializers only check the shape of what is posted; the view builds the
object and saves it through ``controltower.operations.services.config`` (which validates the
model and audits the change). Action serializers describe each action's request body.
"""

from __future__ import annotations

from typing import Any

import django_filters as filters
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from canonical.models import Customer, LegalEntity
from controltower.operations.choices import EXCEPTION_BULK_ACTIONS, ApiTokenState, BulkAction
from controltower.operations.filtersets import ME, BusinessExceptionFilterSet
from controltower.operations.models import (
    ApiToken,
    AuditEvent,
    BulkOperation,
    BusinessCalendar,
    BusinessException,
    ExceptionComment,
    Holiday,
    MaintenanceWindow,
    Notification,
    NotificationAttempt,
    OwnershipRule,
    PeriodClose,
    SlaBreach,
    SlaPolicy,
    Team,
)
from controltower.operations.selectors.data_access import audit_values
from controltower.operations.services.bulk import MAX_ITEMS
from controltower.web.api.fields import (
    GuardedModelSerializer,
    IdField,
    KeyRelatedField,
    MomentField,
    NulFreeDictField,
)
from integrations.crypto import secret_url_mask

User = get_user_model()


class RelatedTextField(serializers.CharField):
    """One attribute of a related row (a user's username, a team's name), null when there is
    no related row. Not a ``default``: DRF leaves a field with a default out of the answer to
    a PATCH, and the published schema says it is always there."""

    def __init__(self, relation: str, attribute: str, **kwargs: Any) -> None:
        super().__init__(read_only=True, allow_null=True, **kwargs)
        self.relation = relation
        self.attribute = attribute

    def bind(self, field_name: str, parent: Any) -> None:
        super().bind(field_name, parent)
        # Set here: DRF refuses a ``source`` equal to the field's name (``assignee``).
        self.source = self.relation
        self.source_attrs = [self.relation]

    def to_representation(self, value: Any) -> str:
        return str(getattr(value, self.attribute))


def username(source: str) -> serializers.CharField:
    """A user shown by username (null when there is none)."""
    return RelatedTextField(source, "username")


def name_of(source: str) -> serializers.CharField:
    return RelatedTextField(source, "name")


# --- the audit log -------------------------------------------------------------------


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "at",
            "actor",
            "actor_name",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "before",
            "after",
            "reason",
            "correlation_id",
        ]

    def to_representation(self, instance: AuditEvent) -> dict[str, Any]:
        data = super().to_representation(instance)
        request = self.context.get("request")
        data["before"], data["after"] = audit_values(
            object_type=instance.object_type,
            before=data["before"],
            after=data["after"],
            user=getattr(request, "user", None),
        )
        return data


# --- configuration -------------------------------------------------------------------


class ConfigSerializer(GuardedModelSerializer):
    """Base of the configuration serializers: every change may carry the reason for it."""

    change_reason = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        default="",
        max_length=2000,
        help_text="Why this change is made; kept in the audit log.",
    )


class MaskedUrlField(serializers.CharField):
    """A secret URL as it is read back: scheme, host and its last four characters."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value: str) -> str:
        return secret_url_mask(value)


def write_only_url(help_text: str) -> serializers.URLField:
    return serializers.URLField(
        write_only=True, required=False, allow_blank=True, max_length=2000, help_text=help_text
    )


class TeamSerializer(ConfigSerializer):
    members = KeyRelatedField(
        slug_field="username",
        many=True,
        required=False,
        queryset=User.objects.filter(is_active=True),
        help_text="Usernames of the people in the team.",
    )
    calendar_name = name_of("calendar")
    open_exceptions = serializers.IntegerField(read_only=True, default=0)
    chat_webhook_url = write_only_url(
        "A chat webhook (Slack or Teams style): write-only. Leave it out to keep the one "
        "set; an empty string removes it."
    )
    chat_webhook = MaskedUrlField(
        source="chat_webhook_url", help_text="The chat webhook, masked; empty if none is set."
    )
    escalation_webhook_url = write_only_url(
        "A second chat webhook for escalations: write-only, as chat_webhook_url."
    )
    escalation_webhook = MaskedUrlField(
        source="escalation_webhook_url", help_text="The escalation webhook, masked."
    )

    class Meta:
        model = Team
        fields = [
            "id",
            "name",
            "members",
            "email",
            "chat_webhook_url",
            "chat_webhook",
            "escalation_email",
            "escalation_webhook_url",
            "escalation_webhook",
            "calendar",
            "calendar_name",
            "is_default",
            "open_exceptions",
            "change_reason",
        ]
        # The generated unique check words this badly; validate_is_default says it plainly.
        extra_kwargs = {"is_default": {"validators": []}}

    def validate_is_default(self, value: bool) -> bool:
        if value:
            current = Team.objects.filter(is_default=True)
            if self.instance is not None:
                current = current.exclude(pk=self.instance.pk)
            if (team := current.first()) is not None:
                raise serializers.ValidationError(
                    f"{team.name} is the default team; only one team catches the rest."
                )
        return value


class OwnershipRuleSerializer(ConfigSerializer):
    team_name = name_of("team")
    legal_entity = KeyRelatedField(
        slug_field="code",
        queryset=LegalEntity.objects.all(),
        required=False,
        allow_null=True,
        help_text="Legal entity code.",
    )
    customer = KeyRelatedField(
        slug_field="number",
        queryset=Customer.objects.all(),
        required=False,
        allow_null=True,
        help_text="Customer number.",
    )
    specificity = serializers.IntegerField(read_only=True)
    description = serializers.CharField(source="__str__", read_only=True)

    class Meta:
        model = OwnershipRule
        fields = [
            "id",
            "team",
            "team_name",
            "exception_type",
            "flow",
            "legal_entity",
            "customer",
            "priority",
            "active",
            "specificity",
            "description",
            "created_at",
            "change_reason",
        ]


class DraftRuleSerializer(OwnershipRuleSerializer):
    """A rule as it is being edited; checked as a saved rule would be, but not saved."""

    class Meta(OwnershipRuleSerializer.Meta):
        fields = [f for f in OwnershipRuleSerializer.Meta.fields if f != "change_reason"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            OwnershipRule(**attrs).clean()
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from error
        return attrs


class HolidaySerializer(ConfigSerializer):
    class Meta:
        model = Holiday
        fields = ["id", "calendar", "date", "name", "change_reason"]


class HolidayInCalendarSerializer(serializers.ModelSerializer):
    class Meta:
        model = Holiday
        fields = ["id", "date", "name"]


class BusinessCalendarSerializer(ConfigSerializer):
    holidays = HolidayInCalendarSerializer(
        many=True, read_only=True, help_text="Written through /holidays/."
    )

    class Meta:
        model = BusinessCalendar
        fields = [
            "id",
            "name",
            "time_zone",
            "working_days",
            "day_start",
            "day_end",
            "holidays",
            "change_reason",
        ]


class SlaPolicySerializer(ConfigSerializer):
    team_name = name_of("team")

    class Meta:
        model = SlaPolicy
        fields = [
            "id",
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
            "team_name",
            "active",
            "change_reason",
        ]


class MaintenanceWindowSerializer(ConfigSerializer):
    team_name = name_of("team")

    class Meta:
        model = MaintenanceWindow
        fields = [
            "id",
            "name",
            "starts_at",
            "ends_at",
            "team",
            "team_name",
            "reason",
            "change_reason",
        ]


class PeriodCloseSerializer(ConfigSerializer):
    class Meta:
        model = PeriodClose
        fields = ["id", "closes_on", "name", "lead_days", "change_reason"]


class RerouteResultSerializer(serializers.Serializer):
    moved = serializers.IntegerField(help_text="How many open exceptions changed team.")


# --- service levels (read-only) --------------------------------------------------------


class SlaBreachSerializer(serializers.ModelSerializer):
    policy_name = name_of("policy")
    kind = serializers.CharField(source="policy.kind", read_only=True)
    team_name = name_of("team")

    class Meta:
        model = SlaBreach
        fields = [
            "id",
            "policy",
            "policy_name",
            "kind",
            "state",
            "transaction",
            "exception",
            "team",
            "team_name",
            "started_at",
            "due_at",
            "at_risk_at",
            "breached_at",
            "escalated_at",
            "met_at",
        ]


class NotificationAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = NotificationAttempt
        fields = ["number", "at", "ok", "status_code", "error"]


class NotificationSerializer(serializers.ModelSerializer):
    team_name = name_of("team")
    attempts = NotificationAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Notification
        fields = [
            "id",
            "breach",
            "team",
            "team_name",
            "kind",
            "channel",
            "recipient",
            "subject",
            "body",
            "status",
            "attempts_count",
            "next_attempt_at",
            "last_error",
            "created_at",
            "sent_at",
            "attempts",
        ]


# --- exceptions --------------------------------------------------------------------------


class BusinessExceptionSerializer(serializers.ModelSerializer):
    record_type = RelatedTextField("record_type", "model")
    transaction_ids = serializers.PrimaryKeyRelatedField(
        source="transactions", many=True, read_only=True
    )
    team_name = name_of("team")
    sla_policy_name = name_of("sla_policy")
    assignee = username("assignee")
    prepared_by = username("prepared_by")
    resolved_by = username("resolved_by")
    customer = RelatedTextField("customer", "number")
    customer_name = name_of("customer")
    legal_entity = RelatedTextField("legal_entity", "code")
    is_snoozed = serializers.BooleanField(read_only=True)
    comment_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = BusinessException
        fields = [
            "id",
            "exception_type",
            "severity",
            "status",
            "flow",
            "message",
            "details",
            "waiting_on",
            "business_key",
            "record_type",
            "record_id",
            "money_at_risk",
            "currency",
            "money_note",
            "occurrences",
            "customer",
            "customer_name",
            "legal_entity",
            "team",
            "team_name",
            "assignee",
            "snoozed_until",
            "is_snoozed",
            "sla_due_at",
            "sla_policy",
            "sla_policy_name",
            "comment_count",
            "transaction_ids",
            "prepared_by",
            "created_at",
            "updated_at",
            "resolved_at",
            "resolved_by",
            "resolution",
        ]


class RulePreviewSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="How many open exceptions the rule would take.")
    limit = serializers.IntegerField(help_text="The preview stops counting here.")
    results = BusinessExceptionSerializer(many=True)


class ExceptionCommentSerializer(serializers.ModelSerializer):
    author = username("author")

    class Meta:
        model = ExceptionComment
        fields = ["id", "exception", "author", "body", "created_at"]
        read_only_fields = ["exception"]


class AssigneeField(KeyRelatedField):
    """A username, or ``me`` for the caller."""

    def to_internal_value(self, data: Any) -> Any:
        if data == ME:
            return self.context["request"].user
        return super().to_internal_value(data)


class AssignSerializer(serializers.Serializer):
    assignee = AssigneeField(
        slug_field="username",
        queryset=User.objects.filter(is_active=True),
        required=False,
        allow_null=True,
        help_text="A username, `me`, or null to release the item.",
    )
    team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(), required=False, allow_null=True, help_text="A team id."
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "assignee" not in attrs and "team" not in attrs:
            raise serializers.ValidationError({"assignee": ["Name an assignee, a team, or both."]})
        return attrs


class NewCommentSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=10_000)


class SnoozeSerializer(serializers.Serializer):
    until = MomentField(help_text="Held out of the queue until then.")
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ResolveSerializer(serializers.Serializer):
    resolution = serializers.CharField(max_length=2000, help_text="What was done.")


class FixRateSerializer(serializers.Serializer):
    rate = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=0,
        help_text="The hourly rate of the missing role, in the rate card's currency.",
    )


class FixBillingCodeSerializer(serializers.Serializer):
    code = serializers.CharField(
        max_length=40, help_text="A code the invoice's legal entity's ERP accepts."
    )
    target = serializers.ChoiceField(
        choices=["customer", "contract"],
        required=False,
        help_text="Set it on the bill-to customer or the contract (default: where the "
        "invoice took it from).",
    )


class BulkOperationSerializer(serializers.ModelSerializer):
    requested_by = username("requested_by")
    progress = serializers.IntegerField(read_only=True, help_text="Percent of items done.")

    class Meta:
        model = BulkOperation
        fields = [
            "id",
            "action",
            "requested_by",
            "selection",
            "params",
            "status",
            "total",
            "done",
            "failed",
            "progress",
            "errors",
            "created_at",
            "finished_at",
        ]


class BulkStartSerializer(serializers.Serializer):
    """One action on many exceptions: chosen by id, or by the exceptions list's filter."""

    action = serializers.ChoiceField(
        choices=[(a.value, a.label) for a in BulkAction if a in EXCEPTION_BULK_ACTIONS]
    )
    ids = serializers.ListField(
        child=IdField(),
        required=False,
        allow_empty=False,
        max_length=MAX_ITEMS,
    )
    filter = NulFreeDictField(
        required=False,
        help_text='The query of the exceptions list, e.g. {"status": ["open"], "team": 3}.',
    )
    params = NulFreeDictField(
        required=False,
        default=dict,
        help_text="assign: assignee_id and/or team_id (or assignee: a username or `me`); "
        "resolve: resolution; dismiss: reason.",
    )

    def validate_params(self, value: dict[str, Any]) -> dict[str, Any]:
        name = value.get("assignee")
        if name is None:
            return value
        if name == ME:
            user = self.context["request"].user
        else:
            user = User.objects.filter(username=name, is_active=True).first()
            if user is None:
                raise serializers.ValidationError({"assignee": [f"No active user {name!r}."]})
        params = {k: v for k, v in value.items() if k != "assignee"}
        return {**params, "assignee_id": user.pk}

    def validate_filter(self, value: dict[str, Any]) -> dict[str, Any]:
        known = BusinessExceptionFilterSet.base_filters
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise serializers.ValidationError(f"Unknown filter: {', '.join(unknown)}.")
        if not value:
            raise serializers.ValidationError("A filter names at least one condition.")
        data: dict[str, Any] = {}
        for key, item in value.items():
            many = isinstance(known[key], filters.MultipleChoiceFilter)
            items = item if isinstance(item, list) else [item]
            if key == "assignee" and item == ME:
                items = [self.context["request"].user.get_username()]
            items = [str(v).lower() if isinstance(v, bool) else str(v) for v in items]
            data[key] = items if many else items[0]
        filterset = BusinessExceptionFilterSet(data=data, queryset=BusinessException.objects.none())
        if not filterset.is_valid():
            raise serializers.ValidationError(
                {key: [str(m) for m in messages] for key, messages in filterset.errors.items()}
            )
        return data

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("ids" in attrs) == ("filter" in attrs):
            raise serializers.ValidationError(
                {"ids": ["Give either ids or a filter, not both and not neither."]}
            )
        return attrs


# --- API tokens --------------------------------------------------------------------------


class ApiTokenSerializer(serializers.ModelSerializer):
    """An API token as it is listed: its first characters, never the key."""

    prefix = serializers.CharField(source="token_key", read_only=True)
    user = serializers.CharField(source="user.username", read_only=True)
    revoked_by = serializers.CharField(
        source="revoked_by.username", read_only=True, allow_null=True, default=None
    )
    state = serializers.ChoiceField(choices=ApiTokenState.choices, read_only=True)

    class Meta:
        model = ApiToken
        fields = [
            "prefix",
            "name",
            "user",
            "state",
            "created",
            "expiry",
            "last_used_at",
            "revoked_at",
            "revoked_by",
        ]
        read_only_fields = fields


class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text="What the token is for.")
    days = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=3650,
        help_text="It expires after this many days; CT_API_TOKEN_DAYS (90) when left out.",
    )
    user = serializers.CharField(
        required=False,
        max_length=150,
        help_text="An admin may make a token for another user; others make their own.",
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    token = serializers.CharField(
        read_only=True,
        help_text="The key, shown this once: send it as `Authorization: Token <key>`.",
    )

    class Meta(ApiTokenSerializer.Meta):
        fields = ["token", *ApiTokenSerializer.Meta.fields]
        read_only_fields = fields
