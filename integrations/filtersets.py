from __future__ import annotations

import django_filters as filters
from django.db.models import Q, QuerySet

from canonical.filters import IdFilter, MomentFilter
from canonical.models import Contract
from integrations.choices import (
    CompensationAction,
    CompensationState,
    DeliveryState,
    ErrorClass,
    EventType,
    FlowKind,
    TransactionState,
)
from integrations.models import Compensation, Delivery, Poller, SyncState, Transaction


class TransactionFilterSet(filters.FilterSet):
    """One filter set for the API list and the pages' transaction explorer."""

    flow = filters.ChoiceFilter(field_name="flow__kind", choices=FlowKind.choices)
    # A column of the row itself: no DISTINCT, which would compare every column, payloads too.
    state = filters.MultipleChoiceFilter(choices=TransactionState.choices, distinct=False)
    system = filters.CharFilter(method="filter_system", help_text="Source or target system slug.")
    source_system = filters.CharFilter(field_name="source_system__slug")
    target_system = filters.CharFilter(field_name="target_system__slug")
    event_type = filters.CharFilter()
    business_key = filters.CharFilter(
        lookup_expr="icontains", help_text="Part of the business key, in any case."
    )
    correlation_id = filters.CharFilter()
    idempotency_key = filters.CharFilter()
    error_class = filters.ChoiceFilter(choices=ErrorClass.choices)
    error_code = filters.CharFilter()
    parent = IdFilter(field_name="parent_id")
    received_after = MomentFilter(field_name="received_at", lookup_expr="gte")
    received_before = MomentFilter(field_name="received_at", lookup_expr="lt")
    customer = filters.CharFilter(
        method="filter_customer",
        help_text="Customer number: its own master-data events and every transaction in the "
        "lineage of its contracts.",
    )
    contract = filters.CharFilter(
        method="filter_contract",
        help_text="Contract number: every transaction in its lineage.",
    )
    project = filters.CharFilter(
        method="filter_project",
        help_text="Project code: its own events and every transaction in its contract's lineage.",
    )

    class Meta:
        model = Transaction
        fields = ["outcome"]

    def filter_system(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(Q(source_system__slug=value) | Q(target_system__slug=value))

    # Each side is an exact match on an indexed column (business key, correlation id),
    # reached through the contracts' own indexed keys and correlation id.

    def filter_customer(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        number = value.strip().upper()
        return named_or_in_lineage(
            queryset, key=number, contracts=Contract.objects.filter(customer__number=number)
        )

    def filter_contract(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        number = value.strip().upper()
        return named_or_in_lineage(
            queryset, key=number, contracts=Contract.objects.filter(number=number)
        )

    def filter_project(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        code = value.strip().upper()
        return named_or_in_lineage(
            queryset, key=code, contracts=Contract.objects.filter(projects__code=code)
        )


def contract_lineage(contracts: QuerySet[Contract]) -> QuerySet:
    """The correlation ids of ``contracts``: every transaction of their lineage carries one."""
    return contracts.exclude(correlation_id="").values("correlation_id")


def named_or_in_lineage(queryset: QuerySet, *, key: str, contracts: QuerySet[Contract]) -> QuerySet:
    """Transactions whose business key is ``key`` or that belong to ``contracts``' lineage."""
    return queryset.filter(Q(business_key=key) | Q(correlation_id__in=contract_lineage(contracts)))


class SyncStateFilterSet(filters.FilterSet):
    system = filters.CharFilter(field_name="system__slug")
    record_type = filters.CharFilter(field_name="content_type__model")
    object_id = IdFilter()
    external_id = filters.CharFilter()

    class Meta:
        model = SyncState
        fields = ["outcome"]


class PollerFilterSet(filters.FilterSet):
    system = filters.CharFilter(field_name="system__slug")

    class Meta:
        model = Poller
        fields = ["record_type", "enabled", "last_outcome"]


class CompensationFilterSet(filters.FilterSet):
    """One filter set for the API list and the compensations page."""

    state = filters.MultipleChoiceFilter(choices=CompensationState.choices)
    action = filters.ChoiceFilter(choices=CompensationAction.choices)
    system = filters.CharFilter(field_name="system__slug")
    business_key = filters.CharFilter(
        lookup_expr="icontains", help_text="Part of the business key, in any case."
    )
    correlation_id = filters.CharFilter()
    source_transaction = IdFilter(field_name="source_transaction_id")
    execution = IdFilter(field_name="execution_id")

    class Meta:
        model = Compensation
        fields = ["step"]


class DeliveryFilterSet(filters.FilterSet):
    """One filter set for a subscription's delivery log, in the API and on its page."""

    subscription = IdFilter(field_name="subscription_id")
    state = filters.MultipleChoiceFilter(choices=DeliveryState.choices, distinct=False)
    event_type = filters.ChoiceFilter(field_name="event__event_type", choices=EventType.choices)
    event_id = filters.UUIDFilter(field_name="event__event_id")
    record_key = filters.CharFilter(
        lookup_expr="icontains", help_text="Part of the record, e.g. contract:K-5001."
    )
    published_after = MomentFilter(field_name="event__created_at", lookup_expr="gte")
    published_before = MomentFilter(field_name="event__created_at", lookup_expr="lt")

    class Meta:
        model = Delivery
        fields: list[str] = []
