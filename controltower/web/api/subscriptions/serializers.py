from __future__ import annotations

from rest_framework import serializers

from integrations.choices import EventType
from integrations.models import Delivery, DeliveryAttempt, Subscription


class SubscriptionSerializer(serializers.ModelSerializer):
    """A subscription; its signing secret is never read back (``secret`` answers only the
    request that made it or rotated it)."""

    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.choices), allow_empty=False
    )
    secret_set = serializers.SerializerMethodField()
    waiting = serializers.IntegerField(read_only=True, required=False)
    reason = serializers.CharField(
        write_only=True, required=False, allow_blank=True, help_text="Kept in the audit log."
    )

    class Meta:
        model = Subscription
        fields = [
            "id",
            "name",
            "url",
            "event_types",
            "owner_team",
            "enabled",
            "disabled_reason",
            "disabled_at",
            "consecutive_failures",
            "secret_set",
            "waiting",
            "created_at",
            "updated_at",
            "reason",
        ]
        read_only_fields = [
            "enabled",
            "disabled_reason",
            "disabled_at",
            "consecutive_failures",
            "created_at",
            "updated_at",
        ]

    def get_secret_set(self, obj: Subscription) -> bool:
        return bool(obj.secret)


class SubscriptionSecretSerializer(SubscriptionSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text="The signing secret: shown in this answer only. Verify X-CT-Signature with it.",
    )

    class Meta(SubscriptionSerializer.Meta):
        fields = [*SubscriptionSerializer.Meta.fields, "secret"]


class SubscriptionSwitchSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ReplayRangeSerializer(serializers.Serializer):
    since = serializers.DateTimeField(help_text="Events published from this moment ...")
    until = serializers.DateTimeField(help_text="... to before this one.")
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ReplayCountSerializer(serializers.Serializer):
    deliveries = serializers.IntegerField()


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = [
            "number",
            "started_at",
            "duration_ms",
            "ok",
            "status_code",
            "error",
            "response_excerpt",
        ]


class DeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.UUIDField(source="event.event_id", read_only=True)
    event_type = serializers.CharField(source="event.event_type", read_only=True)
    published_at = serializers.DateTimeField(source="event.created_at", read_only=True)
    attempts = DeliveryAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "subscription",
            "event_id",
            "event_type",
            "record_key",
            "sequence",
            "state",
            "attempts_count",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "response_excerpt",
            "published_at",
            "delivered_at",
            "attempts",
        ]
