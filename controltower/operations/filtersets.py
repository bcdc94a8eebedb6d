"""Filters of the operations layer, shared by the API lists and the page lists.

Teams, policies, breaches and the like are filtered by id; canonical records by their
business key (``?customer=C-1001``, ``?legal_entity=US01``), as in ``canonical.filtersets``.
"""

from __future__ import annotations

import django_filters as filters
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from canonical.filters import IdFilter, MomentFilter
from canonical.models import Contract
from controltower.operations.choices import (
    BulkAction,
    BulkStatus,
    NotificationChannel,
    NotificationKind,
    NotificationStatus,
    SlaKind,
    SlaState,
)
from controltower.operations.models import (
    AuditEvent,
    BulkOperation,
    BusinessCalendar,
    BusinessException,
    Holiday,
    MaintenanceWindow,
    Notification,
    OwnershipRule,
    PeriodClose,
    SlaBreach,
    SlaPolicy,
    Team,
)
from integrations.choices import ExceptionStatus, ExceptionType, FlowKind, Severity
from integrations.filtersets import contract_lineage
from integrations.models import Transaction

ME = "me"


class AuditEventFilterSet(filters.FilterSet):
    user = filters.CharFilter(field_name="actor_name", help_text="The actor's username.")
    action = filters.CharFilter(help_text="For example exception.assign or team.update.")
    object_type = filters.CharFilter(help_text="app_label.model, e.g. controltower.team.")
    object_id = filters.CharFilter()
    at_after = MomentFilter(field_name="at", lookup_expr="gte")
    at_before = MomentFilter(field_name="at", lookup_expr="lt")
    q = filters.CharFilter(
        method="filter_q",
        help_text="Free text in the actor, the object's name or id, or the reason.",
    )

    class Meta:
        model = AuditEvent
        fields: list[str] = []

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(actor_name__icontains=value)
            | Q(object_repr__icontains=value)
            | Q(object_id=value)
            | Q(reason__icontains=value)
        )


class BusinessExceptionFilterSet(filters.FilterSet):
    """The exception queues: by status, type, owner, customer and money at risk."""

    # Columns of the row itself: no DISTINCT, which would sort every row of the queue.
    status = filters.MultipleChoiceFilter(choices=ExceptionStatus.choices, distinct=False)
    exception_type = filters.MultipleChoiceFilter(choices=ExceptionType.choices, distinct=False)
    severity = filters.MultipleChoiceFilter(choices=Severity.choices, distinct=False)
    flow = filters.ChoiceFilter(choices=FlowKind.choices)
    waiting_on = filters.CharFilter()
    business_key = filters.CharFilter()
    created_after = MomentFilter(field_name="created_at", lookup_expr="gte")
    created_before = MomentFilter(field_name="created_at", lookup_expr="lt")
    team = IdFilter(field_name="team_id", help_text="The owning team's id.")
    assignee = filters.CharFilter(
        method="filter_assignee", help_text="A username, or `me` for the signed-in user."
    )
    unassigned = filters.BooleanFilter(
        field_name="assignee", lookup_expr="isnull", help_text="true: only items nobody holds."
    )
    no_team = filters.BooleanFilter(
        field_name="team", lookup_expr="isnull", help_text="true: only items no team owns."
    )
    snoozed = filters.BooleanFilter(
        method="filter_snoozed",
        help_text="false hides items snoozed until later; true shows only those. "
        "Without it the list shows both.",
    )
    customer = filters.CharFilter(field_name="customer__number", help_text="Customer number.")
    contract = filters.CharFilter(
        method="filter_contract",
        help_text="Contract number: its own exceptions and those holding its lineage's work.",
    )
    project = filters.CharFilter(
        method="filter_project",
        help_text="Project code: its own exceptions and those holding its contract's work.",
    )
    legal_entity = filters.CharFilter(
        field_name="legal_entity__code", help_text="Legal entity code."
    )
    money_min = filters.NumberFilter(
        field_name="money_at_risk",
        lookup_expr="gte",
        help_text="At least this much at risk.",
        max_digits=18,
        decimal_places=2,
    )
    sla_due_before = MomentFilter(field_name="sla_due_at", lookup_expr="lt")

    class Meta:
        model = BusinessException
        fields: list[str] = []

    def filter_assignee(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == ME:
            user = getattr(self.request, "user", None)
            if user is None or not user.is_authenticated:
                return queryset.none()
            return queryset.filter(assignee=user)
        return queryset.filter(assignee__username=value)

    def filter_contract(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        number = value.strip().upper()
        return _of_lineage(queryset, key=number, contracts=Contract.objects.filter(number=number))

    def filter_project(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        code = value.strip().upper()
        return _of_lineage(
            queryset, key=code, contracts=Contract.objects.filter(projects__code=code)
        )

    def filter_snoozed(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value is None:
            return queryset
        snoozed = Q(snoozed_until__gt=timezone.now())
        return queryset.filter(snoozed) if value else queryset.exclude(snoozed)


class TeamFilterSet(filters.FilterSet):
    name = filters.CharFilter(lookup_expr="icontains")
    member = filters.CharFilter(field_name="members__username", help_text="A member's username.")

    class Meta:
        model = Team
        fields = ["is_default", "calendar"]


class OwnershipRuleFilterSet(filters.FilterSet):
    team = IdFilter(field_name="team_id")
    exception_type = filters.ChoiceFilter(choices=ExceptionType.choices)
    flow = filters.ChoiceFilter(choices=FlowKind.choices)
    legal_entity = filters.CharFilter(field_name="legal_entity__code")
    customer = filters.CharFilter(field_name="customer__number")

    class Meta:
        model = OwnershipRule
        fields = ["active"]


class BusinessCalendarFilterSet(filters.FilterSet):
    name = filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = BusinessCalendar
        fields = ["time_zone"]


class HolidayFilterSet(filters.FilterSet):
    calendar = IdFilter(field_name="calendar_id")
    date_after = filters.DateFilter(field_name="date", lookup_expr="gte")
    date_before = filters.DateFilter(field_name="date", lookup_expr="lt")

    class Meta:
        model = Holiday
        fields: list[str] = []


class SlaPolicyFilterSet(filters.FilterSet):
    kind = filters.ChoiceFilter(choices=SlaKind.choices)
    flow = filters.ChoiceFilter(choices=FlowKind.choices)
    exception_type = filters.ChoiceFilter(choices=ExceptionType.choices)
    severity = filters.ChoiceFilter(choices=Severity.choices)
    team = IdFilter(field_name="team_id")

    class Meta:
        model = SlaPolicy
        fields = ["active", "business_hours"]


class MaintenanceWindowFilterSet(filters.FilterSet):
    team = IdFilter(field_name="team_id")
    starts_after = MomentFilter(field_name="starts_at", lookup_expr="gte")
    starts_before = MomentFilter(field_name="starts_at", lookup_expr="lt")
    active_at = MomentFilter(method="filter_active_at", help_text="Windows open at this moment.")

    class Meta:
        model = MaintenanceWindow
        fields: list[str] = []

    def filter_active_at(self, queryset: QuerySet, name: str, value) -> QuerySet:
        return queryset.filter(starts_at__lte=value, ends_at__gt=value)


class PeriodCloseFilterSet(filters.FilterSet):
    closes_after = filters.DateFilter(field_name="closes_on", lookup_expr="gte")
    closes_before = filters.DateFilter(field_name="closes_on", lookup_expr="lt")

    class Meta:
        model = PeriodClose
        fields: list[str] = []


class SlaBreachFilterSet(filters.FilterSet):
    state = filters.MultipleChoiceFilter(choices=SlaState.choices)
    policy = IdFilter(field_name="policy_id")
    team = IdFilter(field_name="team_id")
    kind = filters.ChoiceFilter(field_name="policy__kind", choices=SlaKind.choices)
    breached_after = MomentFilter(field_name="breached_at", lookup_expr="gte")
    breached_before = MomentFilter(field_name="breached_at", lookup_expr="lt")
    open = filters.BooleanFilter(
        field_name="met_at", lookup_expr="isnull", help_text="true: items not finished yet."
    )

    class Meta:
        model = SlaBreach
        fields = ["exception", "transaction"]


class NotificationFilterSet(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=NotificationStatus.choices)
    channel = filters.ChoiceFilter(choices=NotificationChannel.choices)
    kind = filters.ChoiceFilter(choices=NotificationKind.choices)
    team = IdFilter(field_name="team_id")
    breach = IdFilter(field_name="breach_id")
    created_after = MomentFilter(field_name="created_at", lookup_expr="gte")
    created_before = MomentFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Notification
        fields: list[str] = []


class BulkOperationFilterSet(filters.FilterSet):
    action = filters.ChoiceFilter(choices=BulkAction.choices)
    status = filters.MultipleChoiceFilter(choices=BulkStatus.choices)
    requested_by = filters.CharFilter(field_name="requested_by__username")

    class Meta:
        model = BulkOperation
        fields: list[str] = []


def _of_lineage(queryset: QuerySet, *, key: str, contracts: QuerySet) -> QuerySet:
    """Exceptions named by ``key``, or holding a transaction in the lineage of ``contracts``
    (by correlation id): an EXISTS, so the queue needs no DISTINCT."""
    held = Transaction.objects.filter(
        exception_id=OuterRef("pk"), correlation_id__in=contract_lineage(contracts)
    )
    return queryset.filter(Q(business_key=key) | Exists(held))
