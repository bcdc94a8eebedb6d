"""API of the operations layer: configuration, service levels, exception queues and the audit log.

Views are doors onto services: configuration saves go through
``controltower.operations.services.config``, routing through ``controltower.operations.services.routing``,
each exception action through one lifecycle service. The services validate, audit and
raise ``ApplicationError``, which the API turns into its one error shape.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any, ClassVar

from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.http import StreamingHttpResponse
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from controltower.operations.filtersets import (
    AuditEventFilterSet,
    BulkOperationFilterSet,
    BusinessCalendarFilterSet,
    BusinessExceptionFilterSet,
    HolidayFilterSet,
    MaintenanceWindowFilterSet,
    NotificationFilterSet,
    OwnershipRuleFilterSet,
    PeriodCloseFilterSet,
    SlaBreachFilterSet,
    SlaPolicyFilterSet,
    TeamFilterSet,
)
from controltower.operations.models import (
    ApiToken,
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
from controltower.operations.selectors.data_access import audit_values
from controltower.operations.selectors.fixes import FIX_BILLING_CODE, FIX_RATE, FIX_RECHECK
from controltower.operations.services.approvals import exception_approve, exception_reject
from controltower.operations.services.bulk import bulk_operation_start
from controltower.operations.services.config import config_delete, config_save
from controltower.operations.services.exceptions import (
    exception_assign,
    exception_comment,
    exception_dismiss,
    exception_reopen,
    exception_resolve,
    exception_snooze,
)
from controltower.operations.services.fixes import (
    exception_fix_billing_code,
    exception_fix_rate,
    exception_fix_recheck,
)
from controltower.operations.services.routing import exceptions_reroute, rule_preview
from controltower.operations.services.tokens import (
    api_token_create,
    api_token_revoke,
    api_tokens_visible,
)
from controltower.web.api.engine.serializers import (
    ErrorSerializer,
    ReasonSerializer,
    RequiredReasonSerializer,
)
from controltower.web.api.operations import serializers as s
from controltower.web.api.permissions import requires
from controltower.web.streaming import primed
from integrations.choices import OPEN_STATUSES, Severity

ERRORS = {code: ErrorSerializer for code in (400, 401, 403, 404, 409)}
WORK = "controltower.work_businessexception"
APPROVE = "controltower.approve_businessexception"


def _valid(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class AliasOrderingFilter(OrderingFilter):
    """Ordering where a public name may stand for an annotation (``severity`` → its rank)."""

    def remove_invalid_fields(self, queryset, fields, view, request):
        aliases: dict[str, str] = getattr(view, "ordering_aliases", {})
        mapped = []
        for term in fields:
            descending = term.startswith("-")
            name = term.lstrip("-")
            mapped.append(("-" if descending else "") + aliases.get(name, name))
        return super().remove_invalid_fields(queryset, mapped, view, request)


# --- the audit log -------------------------------------------------------------------

AUDIT_CSV_COLUMNS = [
    "id",
    "at",
    "actor_name",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "reason",
    "before",
    "after",
    "correlation_id",
]


class _Echo:
    """A file-like object whose write hands the line back, for a streamed CSV."""

    def write(self, value: str) -> str:
        return value


class CsvRenderer(BaseRenderer):
    """Lets a client ask for ``text/csv``; the export view streams its own body."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type=None, renderer_context=None) -> bytes:
        # Only refusals reach here (the export streams past the renderer): one message row.
        message = data.get("message", "") if isinstance(data, dict) else str(data)
        writer = csv.writer(_Echo())
        # Quoted as CSV needs: a message may hold commas, quotes or line breaks.
        return (writer.writerow(["message"]) + writer.writerow([message])).encode()


def _audit_csv_lines(events: Iterator[AuditEvent], *, user: Any) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(AUDIT_CSV_COLUMNS)
    for event in events:
        before, after = audit_values(
            object_type=event.object_type, before=event.before, after=event.after, user=user
        )
        yield writer.writerow(
            [
                event.pk,
                event.at.isoformat(),
                event.actor_name,
                event.action,
                event.object_type,
                event.object_id,
                event.object_repr,
                event.reason,
                "" if before is None else json.dumps(before, sort_keys=True),
                "" if after is None else json.dumps(after, sort_keys=True),
                event.correlation_id,
            ]
        )


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The append-only audit log: every action and configuration change."""

    queryset = AuditEvent.objects.all()
    serializer_class = s.AuditEventSerializer
    filterset_class = AuditEventFilterSet
    ordering_fields = ["at", "id", "action", "actor_name", "object_type"]
    ordering = ["-at", "-id"]

    @extend_schema(
        filters=True,
        responses={(200, "text/csv"): OpenApiTypes.STR, 401: ErrorSerializer, 403: ErrorSerializer},
        description="The filtered audit log as CSV, with a header row; every matching row, "
        "streamed.",
    )
    @action(
        detail=False,
        methods=["get"],
        renderer_classes=[JSONRenderer, CsvRenderer],
        pagination_class=None,
    )
    def export(self, request: Request) -> StreamingHttpResponse:
        queryset = self.filter_queryset(self.get_queryset())
        response = StreamingHttpResponse(
            _audit_csv_lines(primed(queryset.iterator(chunk_size=2000)), user=request.user),
            content_type="text/csv; charset=utf-8",
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
        return response


# --- configuration -------------------------------------------------------------------


class ConfigViewSet(viewsets.ModelViewSet):
    """The shared base of configuration resources.

    The serializer checks the shape; the object is built from it and saved through
    ``config_save`` / ``config_delete``, which validate the model and audit the change
    with its before, after and ``change_reason``. Permissions are the model's
    add/change/delete (the admin role).
    """

    m2m_fields: ClassVar[tuple[str, ...]] = ()

    def perform_create(self, serializer: serializers.ModelSerializer) -> None:
        self._save(serializer, self.get_queryset().model())

    def perform_update(self, serializer: serializers.ModelSerializer) -> None:
        self._save(serializer, serializer.instance)

    def _save(self, serializer: serializers.ModelSerializer, instance: Any) -> None:
        data = dict(serializer.validated_data)
        reason = data.pop("change_reason", "")
        m2m = {
            field: [obj.pk for obj in data.pop(field)] for field in self.m2m_fields if field in data
        }
        for field, value in data.items():
            setattr(instance, field, value)
        saved = config_save(
            actor=self.request.user, instance=instance, m2m=m2m or None, reason=reason
        )
        serializer.instance = self.get_queryset().get(pk=saved.pk)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "change_reason", str, description="Why it is deleted; kept in the audit log."
            )
        ],
        responses={204: None, 403: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
    )
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance: Any) -> None:
        reason = self.request.query_params.get("change_reason") or ""
        if not reason and isinstance(self.request.data, dict):
            reason = str(self.request.data.get("change_reason") or "")
        config_delete(actor=self.request.user, instance=instance, reason=reason)


class TeamViewSet(ConfigViewSet):
    """Teams that own exception queues, with their members, contacts and calendar."""

    queryset = (
        Team.objects.select_related("calendar")
        .prefetch_related("members")
        .annotate(
            open_exceptions=Count("exceptions", filter=Q(exceptions__status__in=OPEN_STATUSES))
        )
    )
    serializer_class = s.TeamSerializer
    filterset_class = TeamFilterSet
    ordering_fields = ["name", "id", "open_exceptions"]
    ordering = ["name"]
    m2m_fields = ("members",)


PREVIEW_LIMIT = 200


class OwnershipRuleViewSet(ConfigViewSet):
    """Which team owns which exceptions; the most specific matching rule wins."""

    queryset = OwnershipRule.objects.select_related("team", "legal_entity", "customer")
    serializer_class = s.OwnershipRuleSerializer
    filterset_class = OwnershipRuleFilterSet
    ordering_fields = ["id", "team__name", "priority", "created_at"]
    ordering = ["team__name", "id"]

    def _preview(self, rule: OwnershipRule) -> Response:
        limit = PREVIEW_LIMIT
        taken = [exc.pk for exc in rule_preview(rule=rule, limit=limit)]
        rows = exception_queryset().filter(pk__in=taken).order_by("-money_at_risk", "-id")
        data = s.BusinessExceptionSerializer(rows, many=True).data
        return Response({"count": len(taken), "limit": limit, "results": data})

    @extend_schema(
        request=s.DraftRuleSerializer,
        responses={200: s.RulePreviewSerializer, **ERRORS},
        description="Which open exceptions the posted rule would take from their team if it "
        "were saved (nothing is saved). The open exceptions stay where they are until an "
        "admin re-routes.",
    )
    @action(detail=False, methods=["post"], url_path="preview")
    @requires("controltower.view_ownershiprule")
    def preview_draft(self, request: Request) -> Response:
        data = _valid(s.DraftRuleSerializer, request)
        return self._preview(OwnershipRule(**data))

    @extend_schema(
        responses={200: s.RulePreviewSerializer, **ERRORS},
        description="Which open exceptions this rule would take if the open work were re-routed "
        "now.",
    )
    @action(detail=True, methods=["get"])
    def preview(self, request: Request, pk: str) -> Response:
        return self._preview(self.get_object())

    @extend_schema(
        request=ReasonSerializer,
        responses={200: s.RerouteResultSerializer, **ERRORS},
        description="Re-routes every open exception by the current rules.",
    )
    @action(detail=False, methods=["post"])
    @requires("controltower.change_ownershiprule")
    def reroute(self, request: Request) -> Response:
        data = _valid(ReasonSerializer, request)
        moved = exceptions_reroute(actor=request.user, reason=data["reason"])
        return Response({"moved": moved})


class BusinessCalendarViewSet(ConfigViewSet):
    """Working hours and holidays that business-hours SLAs count."""

    queryset = BusinessCalendar.objects.prefetch_related("holidays")
    serializer_class = s.BusinessCalendarSerializer
    filterset_class = BusinessCalendarFilterSet
    ordering_fields = ["name", "id"]
    ordering = ["name"]


class HolidayViewSet(ConfigViewSet):
    """Days off in a business calendar."""

    queryset = Holiday.objects.all()
    serializer_class = s.HolidaySerializer
    filterset_class = HolidayFilterSet
    ordering_fields = ["date", "id"]
    ordering = ["date"]


class SlaPolicyViewSet(ConfigViewSet):
    """Service levels for flows and exceptions."""

    queryset = SlaPolicy.objects.select_related("team")
    serializer_class = s.SlaPolicySerializer
    filterset_class = SlaPolicyFilterSet
    ordering_fields = ["name", "kind", "target_minutes", "id"]
    ordering = ["kind", "name"]


class MaintenanceWindowViewSet(ConfigViewSet):
    """Planned stops that hold alerts (not data)."""

    queryset = MaintenanceWindow.objects.select_related("team")
    serializer_class = s.MaintenanceWindowSerializer
    filterset_class = MaintenanceWindowFilterSet
    ordering_fields = ["starts_at", "ends_at", "name", "id"]
    ordering = ["-starts_at"]


class PeriodCloseViewSet(ConfigViewSet):
    """ERP period-close dates, ahead of which billing breaches escalate."""

    queryset = PeriodClose.objects.all()
    serializer_class = s.PeriodCloseSerializer
    filterset_class = PeriodCloseFilterSet
    ordering_fields = ["closes_on", "id"]
    ordering = ["closes_on"]


# --- service levels (read-only) --------------------------------------------------------


class SlaBreachViewSet(viewsets.ReadOnlyModelViewSet):
    """Items that went past, or near, their SLA; written by the SLA sweep."""

    queryset = SlaBreach.objects.select_related("policy", "team")
    serializer_class = s.SlaBreachSerializer
    filterset_class = SlaBreachFilterSet
    ordering_fields = ["breached_at", "at_risk_at", "due_at", "started_at", "id"]
    ordering = ["-breached_at", "-at_risk_at", "-id"]


class NotificationViewSet(viewsets.ReadOnlyModelViewSet):
    """Messages sent to teams about breaches, with every delivery attempt."""

    queryset = Notification.objects.select_related("team").prefetch_related("attempts")
    serializer_class = s.NotificationSerializer
    filterset_class = NotificationFilterSet
    ordering_fields = ["created_at", "sent_at", "id"]
    ordering = ["-created_at", "-id"]


# --- exceptions ---------------------------------------------------------------------------

SEVERITY_RANK = Case(
    *(When(severity=value, then=Value(rank)) for rank, value in enumerate(Severity.values)),
    default=Value(0),
    output_field=IntegerField(),
)


def exception_queryset() -> QuerySet[BusinessException]:
    """Exceptions with what a queue shows beside each: owner, customer, comments."""
    return (
        BusinessException.objects.select_related(
            "record_type",
            "team",
            "sla_policy",
            "assignee",
            "customer",
            "legal_entity",
            "prepared_by",
            "resolved_by",
        )
        .prefetch_related("transactions")
        .annotate(comment_count=Count("comments", distinct=True), severity_rank=SEVERITY_RANK)
    )


class BusinessExceptionViewSet(viewsets.ReadOnlyModelViewSet):
    """Business exceptions: what stopped work, why, and the money it holds up; and their actions.

    Operators assign, comment, snooze, resolve, dismiss and reopen; approvers also approve
    and reject what an exception holds for approval (never their own preparation).
    """

    queryset = exception_queryset()
    serializer_class = s.BusinessExceptionSerializer
    filterset_class = BusinessExceptionFilterSet
    filter_backends = [DjangoFilterBackend, AliasOrderingFilter]
    ordering_fields = [
        "money_at_risk",
        "created_at",
        "sla_due_at",
        "severity_rank",
        "occurrences",
        "id",
    ]
    ordering_aliases = {"severity": "severity_rank"}
    ordering = ["-money_at_risk", "-created_at", "-id"]

    def _answer(self, pk: str, code: int = status.HTTP_200_OK) -> Response:
        exc = exception_queryset().get(pk=pk)
        return Response(s.BusinessExceptionSerializer(exc).data, status=code)

    @extend_schema(
        request=s.AssignSerializer, responses={200: s.BusinessExceptionSerializer, **ERRORS}
    )
    @action(detail=True, methods=["post"])
    @requires(WORK)
    def assign(self, request: Request, pk: str) -> Response:
        data = _valid(s.AssignSerializer, request)
        assignee, team = data.get("assignee"), data.get("team")
        exception_assign(
            exception_id=int(pk),
            actor=request.user,
            assignee_id=assignee.pk if assignee else None,
            team_id=team.pk if team else None,
            reason=data["reason"],
        )
        return self._answer(pk)

    @extend_schema(responses={200: s.ExceptionCommentSerializer(many=True), **ERRORS})
    @action(detail=True, methods=["get"], pagination_class=None)
    def comments(self, request: Request, pk: str) -> Response:
        exc = self.get_object()
        rows = exc.comments.select_related("author")
        return Response(s.ExceptionCommentSerializer(rows, many=True).data)

    @extend_schema(
        request=s.NewCommentSerializer,
        responses={201: s.ExceptionCommentSerializer, **ERRORS},
    )
    @comments.mapping.post
    @requires("controltower.add_exceptioncomment")
    def comment(self, request: Request, pk: str) -> Response:
        data = _valid(s.NewCommentSerializer, request)
        note = exception_comment(exception_id=int(pk), actor=request.user, body=data["body"])
        return Response(s.ExceptionCommentSerializer(note).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=s.SnoozeSerializer, responses={200: s.BusinessExceptionSerializer, **ERRORS}
    )
    @action(detail=True, methods=["post"])
    @requires(WORK)
    def snooze(self, request: Request, pk: str) -> Response:
        data = _valid(s.SnoozeSerializer, request)
        exception_snooze(
            exception_id=int(pk), actor=request.user, until=data["until"], reason=data["reason"]
        )
        return self._answer(pk)

    @extend_schema(
        request=s.ResolveSerializer, responses={200: s.BusinessExceptionSerializer, **ERRORS}
    )
    @action(detail=True, methods=["post"])
    @requires(WORK)
    def resolve(self, request: Request, pk: str) -> Response:
        data = _valid(s.ResolveSerializer, request)
        exception_resolve(exception_id=int(pk), actor=request.user, resolution=data["resolution"])
        return self._answer(pk)

    @extend_schema(
        request=s.FixRateSerializer, responses={200: s.BusinessExceptionSerializer, **ERRORS}
    )
    @action(detail=True, methods=["post"], url_path="fix-rate")
    @requires(FIX_RATE)
    def fix_rate(self, request: Request, pk: str) -> Response:
        """Adds the missing role's rate to the rate card a missing_rate_card exception names;
        what waits for it runs again. Finance's: the approver and admin roles."""
        data = _valid(s.FixRateSerializer, request)
        exception_fix_rate(exception_id=int(pk), actor=request.user, rate=data["rate"])
        return self._answer(pk)

    @extend_schema(
        request=s.FixBillingCodeSerializer, responses={200: s.BusinessExceptionSerializer, **ERRORS}
    )
    @action(detail=True, methods=["post"], url_path="fix-code")
    @requires(FIX_BILLING_CODE)
    def fix_code(self, request: Request, pk: str) -> Response:
        """Sets the tax code or payment terms an invoice waits for, from its legal entity's
        accepted list, on its bill-to customer or contract; the invoice runs again."""
        data = _valid(s.FixBillingCodeSerializer, request)
        exception_fix_billing_code(
            exception_id=int(pk),
            actor=request.user,
            code=data["code"],
            target=data.get("target", ""),
        )
        return self._answer(pk)

    @extend_schema(request=None, responses={200: s.BusinessExceptionSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    @requires(FIX_RECHECK)
    def recheck(self, request: Request, pk: str) -> Response:
        """Checks again whether the record the exception waits for is there now (fixed in
        its own system); if so, the exception resolves and its work runs again."""
        exception_fix_recheck(exception_id=int(pk), actor=request.user)
        return self._answer(pk)

    @extend_schema(
        request=RequiredReasonSerializer, responses={200: s.BusinessExceptionSerializer, **ERRORS}
    )
    @action(detail=True, methods=["post"])
    @requires(WORK)
    def dismiss(self, request: Request, pk: str) -> Response:
        data = _valid(RequiredReasonSerializer, request)
        exception_dismiss(exception_id=int(pk), actor=request.user, reason=data["reason"])
        return self._answer(pk)

    @extend_schema(
        request=RequiredReasonSerializer, responses={200: s.BusinessExceptionSerializer, **ERRORS}
    )
    @action(detail=True, methods=["post"])
    @requires(WORK)
    def reopen(self, request: Request, pk: str) -> Response:
        data = _valid(RequiredReasonSerializer, request)
        exception_reopen(exception_id=int(pk), actor=request.user, reason=data["reason"])
        return self._answer(pk)

    @extend_schema(
        request=ReasonSerializer,
        responses={200: s.BusinessExceptionSerializer, **ERRORS},
        description="Approves what the exception holds (e.g. an edited replay); refused to the "
        "person who prepared it.",
    )
    @action(detail=True, methods=["post"])
    @requires(APPROVE)
    def approve(self, request: Request, pk: str) -> Response:
        data = _valid(ReasonSerializer, request)
        exception_approve(exception_id=int(pk), actor=request.user, reason=data["reason"])
        return self._answer(pk)

    @extend_schema(
        request=RequiredReasonSerializer, responses={200: s.BusinessExceptionSerializer, **ERRORS}
    )
    @action(detail=True, methods=["post"])
    @requires(APPROVE)
    def reject(self, request: Request, pk: str) -> Response:
        data = _valid(RequiredReasonSerializer, request)
        exception_reject(exception_id=int(pk), actor=request.user, reason=data["reason"])
        return self._answer(pk)


class BulkOperationViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """One action on many exceptions, run in the background; GET one to follow its progress."""

    queryset = BulkOperation.objects.select_related("requested_by")
    serializer_class = s.BulkOperationSerializer
    filterset_class = BulkOperationFilterSet
    ordering_fields = ["created_at", "id"]
    ordering = ["-created_at", "-id"]

    @extend_schema(
        request=s.BulkStartSerializer,
        responses={202: s.BulkOperationSerializer, **ERRORS},
        description="Starts an action (assign, resolve, dismiss, retry) on the exceptions "
        "chosen by `ids` or by `filter` (the exceptions list's query). Answers at once; "
        "follow `progress` on the returned operation.",
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = _valid(s.BulkStartSerializer, request)
        operation = bulk_operation_start(
            actor=request.user,
            action=data["action"],
            ids=data.get("ids"),
            filters=data.get("filter"),
            params=data["params"],
        )
        return Response(s.BulkOperationSerializer(operation).data, status=status.HTTP_202_ACCEPTED)


# --- API tokens -------------------------------------------------------------------------


class ApiTokenViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """A person's API tokens (an admin's: everyone's), listed by their first characters.

    Anyone signed in makes and revokes their own tokens: a token acts with its owner's role.
    The key is answered once, when the token is made; only a hash of it is stored."""

    permission_classes = [IsAuthenticated]
    serializer_class = s.ApiTokenSerializer
    lookup_field = "token_key"
    lookup_url_kwarg = "prefix"
    filter_backends = [OrderingFilter]
    ordering_fields = ["created", "expiry", "last_used_at", "name"]
    ordering = ["-created"]

    def get_queryset(self) -> QuerySet[ApiToken]:
        tokens = api_tokens_visible(actor=self.request.user)
        user = self.request.query_params.get("user")
        return tokens.filter(user__username=user) if user else tokens

    @extend_schema(
        parameters=[OpenApiParameter("user", str, description="Only this user's tokens.")]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=s.ApiTokenCreateSerializer,
        responses={201: s.ApiTokenCreatedSerializer, **ERRORS},
    )
    def create(self, request: Request) -> Response:
        data = _valid(s.ApiTokenCreateSerializer, request)
        token, key = api_token_create(
            actor=request.user,
            name=data["name"],
            days=data.get("days"),
            username=data.get("user"),
            reason=data["reason"],
        )
        token.token = key
        return Response(s.ApiTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=ReasonSerializer,
        responses={200: s.ApiTokenSerializer, **ERRORS},
        parameters=[
            OpenApiParameter(
                "prefix", str, OpenApiParameter.PATH, description="The token's first characters."
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, prefix: str) -> Response:
        """Revokes the token at once; it stays listed, revoked (audited)."""
        data = _valid(ReasonSerializer, request)
        token = api_token_revoke(actor=request.user, prefix=prefix, reason=data.get("reason", ""))
        return Response(s.ApiTokenSerializer(token).data)
