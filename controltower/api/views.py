from __future__ import annotations

from rest_framework import viewsets

from controltower.api.serializers import AuditEventSerializer
from controltower.filtersets import AuditEventFilterSet
from controltower.models import AuditEvent


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The append-only audit log: every action and configuration change."""

    queryset = AuditEvent.objects.select_related("actor")
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilterSet
    ordering_fields = ["at", "id"]
    ordering = ["-at", "-id"]
