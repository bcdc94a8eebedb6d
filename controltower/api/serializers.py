from __future__ import annotations

from rest_framework import serializers

from controltower.models import AuditEvent, BusinessException


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


class BusinessExceptionSerializer(serializers.ModelSerializer):
    record_type = serializers.CharField(source="record_type.model", read_only=True, default=None)
    transaction_ids = serializers.PrimaryKeyRelatedField(
        source="transactions", many=True, read_only=True
    )

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
            "occurrences",
            "transaction_ids",
            "created_at",
            "updated_at",
            "resolved_at",
            "resolution",
        ]
