"""Read-only API over the canonical records; they change only through integration flows."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers as drf_serializers
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.response import Response

from canonical import filtersets, selectors
from canonical.errors import ApplicationError
from controltower.operations.selectors.data_access import field_visible
from controltower.operations.services import approvals as billing
from controltower.operations.services.actions import record_link, record_repush
from controltower.web.api.canonical import serializers
from controltower.web.api.engine.serializers import (
    ReasonSerializer,
    RequiredReasonSerializer,
    TransactionSerializer,
)
from controltower.web.api.fields import IdField
from controltower.web.api.permissions import requires
from integrations.models import ConnectedSystem
from integrations.selectors.lineage import contract_lineage

RECORD_ORDERING = ["id", "version", "updated_at", "created_at"]


class PrepareSerializer(drf_serializers.Serializer):
    note = drf_serializers.CharField(
        required=False, allow_blank=True, default="", max_length=2000, help_text="What was checked."
    )


class ApproveManySerializer(ReasonSerializer):
    ids = drf_serializers.ListField(
        child=IdField(),
        allow_empty=False,
        max_length=billing.MAX_APPROVALS,
        help_text=f"The candidates to approve, at most {billing.MAX_APPROVALS}.",
    )


class ApprovalSerializer(drf_serializers.Serializer):
    id = drf_serializers.IntegerField()
    number = drf_serializers.CharField()
    posting = drf_serializers.IntegerField(help_text="The transaction that posts it to the ERP.")


class RefusalSerializer(drf_serializers.Serializer):
    id = drf_serializers.IntegerField()
    number = drf_serializers.CharField(help_text="Empty when no invoice has this id.")
    reason = drf_serializers.CharField()


class ApprovalsSerializer(drf_serializers.Serializer):
    approved = ApprovalSerializer(many=True)
    refused = RefusalSerializer(many=True)


class MaskedFilterBackend(DjangoFilterBackend):
    """Filters on a field the reader may not see are left out: a reader who may not read
    people's e-mails cannot find one by asking which resource has it either."""

    def get_filterset(self, request: Request, queryset: QuerySet, view: Any) -> Any:
        filterset = super().get_filterset(request, queryset, view)
        if filterset is not None:
            for name, declared in list(filterset.filters.items()):
                if not field_visible(
                    model=queryset.model, field=declared.field_name, user=request.user
                ):
                    del filterset.filters[name]
        return filterset


class MaskedOrderingFilter(OrderingFilter):
    """Sorting by a field the reader may not see is not offered to that reader."""

    def get_valid_fields(
        self, queryset: QuerySet, view: Any, context: dict[str, Any] | None = None
    ) -> list[tuple[str, str]]:
        request = (context or {}).get("request")
        return [
            (name, label)
            for name, label in super().get_valid_fields(queryset, view, context or {})
            if field_visible(model=queryset.model, field=name, user=getattr(request, "user", None))
        ]


class CanonicalRecordViewSet(viewsets.ReadOnlyModelViewSet):
    """The shared base: a subclass names its queryset, serializer, filters and orderings.

    The default order is the model's (its business key). Pricing and personal data are
    masked, and neither filtered nor sorted on, for a role that may not see them.
    """

    filter_backends = [MaskedFilterBackend, MaskedOrderingFilter]


class RepushSerializer(ReasonSerializer):
    system = drf_serializers.SlugField(
        help_text="Where to push it again: the ERP's or the PSA's slug."
    )


class RepushMixin:
    """``POST <record>/<id>/repush/``: the record goes to a system again, whatever its sync
    state says (a copy someone changed there, a push that was lost)."""

    @extend_schema(
        request=RepushSerializer,
        responses={202: TransactionSerializer},
        description="Queues a transaction that pushes the record (a project, or a contract's "
        "projects) to the ERP or the PSA again; 409 while one is already queued.",
    )
    @action(detail=True, methods=["post"])
    @requires("integrations.retry_transaction")
    def repush(self, request: Request, pk: str) -> Response:
        data = RepushSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        slug = data.validated_data["system"]
        system = ConnectedSystem.objects.filter(slug=slug).first()
        if system is None:
            raise ApplicationError(
                f"No connected system '{slug}'.", errors={"system": ["Unknown."]}
            )
        tx = record_repush(
            record=self.get_object(),
            system=system,
            actor=request.user,
            reason=data.validated_data["reason"],
        )
        return Response(TransactionSerializer(tx).data, status=202)


class LegalEntityViewSet(CanonicalRecordViewSet):
    queryset = selectors.legal_entity_list()
    serializer_class = serializers.LegalEntitySerializer
    filterset_class = filtersets.LegalEntityFilterSet
    ordering_fields = ["code", "name", "country", *RECORD_ORDERING]


class RateCardViewSet(CanonicalRecordViewSet):
    queryset = selectors.rate_card_list()
    serializer_class = serializers.RateCardSerializer
    filterset_class = filtersets.RateCardFilterSet
    ordering_fields = ["code", "name", *RECORD_ORDERING]


class ContractViewSet(RepushMixin, CanonicalRecordViewSet):
    queryset = selectors.contract_list()
    serializer_class = serializers.ContractSerializer
    filterset_class = filtersets.ContractFilterSet
    ordering_fields = ["number", "start_date", "end_date", "status", *RECORD_ORDERING]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def lineage(self, request: Request, pk: str) -> Response:
        """Every transaction and record downstream of the contract, with each system's sync state."""
        return Response(contract_lineage(self.get_object()))


class RecordLinkSerializer(drf_serializers.Serializer):
    system = drf_serializers.SlugField(help_text="The system's slug, e.g. harvest.")
    external_id = drf_serializers.CharField(
        max_length=100,
        help_text="The record's id there (a Harvest user or project id, a Salesforce account id).",
    )


class LinkMixin:
    """``POST <record>/<pk>/link/``: the record's id in a system that names records by its
    own ids (Harvest users and projects, Salesforce accounts); the work that waited for the
    link runs."""

    @extend_schema(request=RecordLinkSerializer)
    @action(detail=True, methods=["post"])
    @requires("controltower.work_businessexception")
    def link(self, request: Request, pk: str) -> Response:
        data = RecordLinkSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        record = self.get_object()
        record_link(
            kind=record._meta.model_name,
            record_id=record.pk,
            system_slug=data.validated_data["system"],
            external_id=data.validated_data["external_id"],
            actor=request.user,
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=record.pk)).data)


class CustomerViewSet(LinkMixin, CanonicalRecordViewSet):
    queryset = selectors.customer_list()
    serializer_class = serializers.CustomerSerializer
    filterset_class = filtersets.CustomerFilterSet
    ordering_fields = ["number", "name", "legal_entity__code", *RECORD_ORDERING]


class ProjectViewSet(LinkMixin, RepushMixin, CanonicalRecordViewSet):
    queryset = selectors.project_list()
    serializer_class = serializers.ProjectSerializer
    filterset_class = filtersets.ProjectFilterSet
    ordering_fields = ["code", "name", "start_date", "status", *RECORD_ORDERING]

    @extend_schema(responses={200: serializers.ProjectMarginSerializer})
    @action(detail=True, methods=["get"])
    @requires("canonical.see_pricing")
    def margin(self, request: Request, pk: str) -> Response:
        """The project's margin: revenue recognised (its contract's revenue schedule) minus
        cost (approved hours at their cost rates), per month and in all; prices, so only
        for a role that may see them (403 otherwise)."""
        margin = selectors.project_margin(project=self.get_object(), today=timezone.localdate())
        return Response(serializers.ProjectMarginSerializer(margin).data)


class ResourceViewSet(LinkMixin, CanonicalRecordViewSet):
    queryset = selectors.resource_list()
    serializer_class = serializers.ResourceSerializer
    filterset_class = filtersets.ResourceFilterSet
    ordering_fields = ["employee_number", "name", "role", *RECORD_ORDERING]


class AssignmentViewSet(CanonicalRecordViewSet):
    queryset = selectors.assignment_list()
    serializer_class = serializers.AssignmentSerializer
    filterset_class = filtersets.AssignmentFilterSet
    ordering_fields = ["number", "start_date", "end_date", *RECORD_ORDERING]


class TimeEntryViewSet(CanonicalRecordViewSet):
    queryset = selectors.time_entry_list()
    serializer_class = serializers.TimeEntrySerializer
    filterset_class = filtersets.TimeEntryFilterSet
    ordering_fields = ["number", "work_date", "hours", "status", *RECORD_ORDERING]


class BillingMilestoneViewSet(CanonicalRecordViewSet):
    queryset = selectors.billing_milestone_list()
    serializer_class = serializers.BillingMilestoneSerializer
    filterset_class = filtersets.BillingMilestoneFilterSet
    ordering_fields = ["code", "due_date", "amount", "status", *RECORD_ORDERING]


class InvoiceViewSet(CanonicalRecordViewSet):
    queryset = selectors.invoice_list()
    serializer_class = serializers.InvoiceSerializer
    filterset_class = filtersets.InvoiceFilterSet
    ordering_fields = ["number", "period_start", "amount", "status", *RECORD_ORDERING]

    @extend_schema(
        request=PrepareSerializer,
        responses={200: serializers.InvoiceSerializer},
        description="Puts a checked candidate forward for approval. Four eyes: whoever "
        "prepares it cannot approve it.",
    )
    @action(detail=True, methods=["post"])
    @requires("controltower.work_businessexception")
    def prepare(self, request: Request, pk: str) -> Response:
        data = PrepareSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        billing.invoice_prepare(
            invoice_id=int(pk), actor=request.user, note=data.validated_data["note"]
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=pk)).data)

    @extend_schema(request=ReasonSerializer, responses={200: serializers.InvoiceSerializer})
    @action(detail=True, methods=["post"])
    @requires("canonical.approve_invoice")
    def approve(self, request: Request, pk: str) -> Response:
        reason = _reason(request, required=False)
        billing.invoice_approve(invoice_id=int(pk), actor=request.user, reason=reason)
        return Response(self.get_serializer(self.get_queryset().get(pk=pk)).data)

    @extend_schema(
        operation_id="v1_invoices_approve_many",
        request=ApproveManySerializer,
        responses={200: ApprovalsSerializer},
        description="Approves several candidates at once (a month's close). Each goes through "
        "the same checks as a single approval; one refused (four eyes, approved meanwhile) is "
        "listed with why and the rest are approved.",
    )
    @action(detail=False, methods=["post"], url_path="approve", url_name="approve-many")
    @requires("canonical.approve_invoice")
    def approve_many(self, request: Request) -> Response:
        data = ApproveManySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = billing.invoices_approve(
            invoice_ids=data.validated_data["ids"],
            actor=request.user,
            reason=data.validated_data["reason"],
        )
        return Response(ApprovalsSerializer(result).data)

    @extend_schema(request=RequiredReasonSerializer, responses={200: serializers.InvoiceSerializer})
    @action(detail=True, methods=["post"])
    @requires("canonical.approve_invoice")
    def reject(self, request: Request, pk: str) -> Response:
        reason = _reason(request, required=True)
        billing.invoice_reject(invoice_id=int(pk), actor=request.user, reason=reason)
        return Response(self.get_serializer(self.get_queryset().get(pk=pk)).data)


def _reason(request: Request, *, required: bool) -> str:
    serializer = (RequiredReasonSerializer if required else ReasonSerializer)(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data["reason"]
