from __future__ import annotations

from rest_framework import viewsets

from controltower.api.serializers import AuditEventSerializer, BusinessExceptionSerializer
from controltower.filtersets import AuditEventFilterSet, BusinessExceptionFilterSet
from controltower.models import AuditEvent, BusinessException


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The append-only audit log: every action and configuration change."""

    queryset = AuditEvent.objects.select_related("actor")
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilterSet
    ordering_fields = ["at", "id"]
    ordering = ["-at", "-id"]


class BusinessExceptionViewSet(viewsets.ReadOnlyModelViewSet):
    """Business exceptions: what stopped work, why, and the money it holds up."""

    queryset = BusinessException.objects.select_related("record_type").prefetch_related(
        "transactions"
    )
    serializer_class = BusinessExceptionSerializer
    filterset_class = BusinessExceptionFilterSet
    ordering_fields = ["money_at_risk", "created_at", "severity", "occurrences"]
    ordering = ["-money_at_risk", "-created_at"]
