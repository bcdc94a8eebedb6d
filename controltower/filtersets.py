from __future__ import annotations

import django_filters as filters

from controltower.models import AuditEvent


class AuditEventFilterSet(filters.FilterSet):
    user = filters.CharFilter(field_name="actor_name")
    action = filters.CharFilter()
    object_type = filters.CharFilter()
    object_id = filters.CharFilter()
    at_after = filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    at_before = filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields: list[str] = []
