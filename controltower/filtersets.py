from __future__ import annotations

import django_filters as filters

from controltower.choices import ExceptionStatus, ExceptionType, Severity
from controltower.models import AuditEvent, BusinessException
from integrations.choices import FlowKind


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


class BusinessExceptionFilterSet(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=ExceptionStatus.choices)
    exception_type = filters.MultipleChoiceFilter(choices=ExceptionType.choices)
    severity = filters.MultipleChoiceFilter(choices=Severity.choices)
    flow = filters.ChoiceFilter(choices=FlowKind.choices)
    waiting_on = filters.CharFilter()
    business_key = filters.CharFilter()
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = BusinessException
        fields: list[str] = []
