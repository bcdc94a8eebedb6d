from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http import StreamingHttpResponse
from django.http.request import RawPostDataException
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from canonical.errors import ApplicationError, NotFoundError
from controltower.operations.selectors.reconciliation import DRIFT_ACTION_PERMISSION, drift_list
from controltower.operations.services import actions
from controltower.operations.services.compensations import (
    compensation_approve,
    compensation_reject,
    compensation_request,
)
from controltower.operations.services.connections import (
    connection_check,
    connection_set,
    signing_grace_end_by,
    signing_secret_rotate_by,
)
from controltower.operations.services.imports import import_request, import_resume
from controltower.operations.services.mappings import (
    mapping_draft_publish,
    mapping_draft_set,
    mapping_state,
    mapping_try,
)
from controltower.operations.services.pollers import poller_change, poller_run_now
from controltower.operations.services.reconciliation import drift_act
from controltower.web.api.engine import serializers as s
from controltower.web.api.operations.views import CsvRenderer
from controltower.web.api.permissions import requires
from integrations.choices import ImportRowOutcome
from integrations.filtersets import (
    CompensationFilterSet,
    PollerFilterSet,
    SyncStateFilterSet,
    TransactionFilterSet,
)
from integrations.models import ImportJob, OutboundAuth, Poller
from integrations.selectors.compensations import compensation_list
from integrations.selectors.health import flow_list, system_list
from integrations.selectors.routing import erp_route_list
from integrations.selectors.schemas import (
    event_schema_get,
    event_schema_list,
    system_schema_usage,
)
from integrations.selectors.sync import sync_state_list
from integrations.selectors.transactions import transaction_detail_queryset, transaction_list
from integrations.services.imports import import_refused_csv
from integrations.services.inbound import inbound_receive
from integrations.services.mappings import vendor_adapter

ERRORS = {code: s.ErrorSerializer for code in (400, 401, 403, 404, 409, 413)}
RECORD_TYPE = r"(?P<record_type>[a-z_]{1,30})"


def _record_types(system) -> list[str]:
    adapter = vendor_adapter(system)
    return adapter.record_types if adapter is not None else []


class InboundView(APIView):
    """Signed events from a connected system. The signature is the authentication."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []  # each system has its own limit, counted once it is known
    parser_classes: list = []  # the raw body is read as sent: the signature covers it

    @extend_schema(
        operation_id="inbound_receive",
        summary="Push one event or a batch of events",
        description=(
            "Body: one canonical event or a JSON array of up to 1,000. Header "
            '`X-CT-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`. '
            "202 with the new transaction ids; 200 when every event was a duplicate; 400 names "
            "the field path and the refused request is kept as a `rejected` transaction; 429 "
            "with `Retry-After` when the system sent more than its `inbound_requests_per_minute`."
        ),
        request={"application/json": OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter("X-CT-Signature", str, OpenApiParameter.HEADER, required=True),
        ],
        responses={
            200: s.InboundResultSerializer,
            202: s.InboundResultSerializer,
            **ERRORS,
            429: s.ErrorSerializer,
            503: s.ErrorSerializer,  # the database does not answer: send again (Retry-After)
        },
        examples=[
            OpenApiExample(
                "customer.upserted",
                request_only=True,
                value={
                    "type": "customer.upserted",
                    "id": "evt-0001",
                    "occurred_at": "2026-11-02T09:30:00Z",
                    "version": 1,
                    "data": {
                        "number": "C-1001",
                        "name": "Acme",
                        "legal_entity": "US01",
                        "currency": "USD",
                    },
                },
            )
        ],
    )
    def post(self, request: Request, system_slug: str) -> Response:
        try:
            body: bytes | None = request.body
        except (RequestDataTooBig, RawPostDataException):
            body = None
        content_length = request.META.get("CONTENT_LENGTH")
        result = inbound_receive(
            system_slug=system_slug,
            headers=request.headers,
            body=body,
            content_length=int(content_length)
            if content_length and content_length.isascii() and content_length.isdigit()
            else None,
        )
        return Response(result.as_dict(), status=result.status_code)


class TransactionViewSet(viewsets.ReadOnlyModelViewSet):
    """Every inbound event and unit of work, with its attempts, and the actions on it."""

    queryset = transaction_list()
    serializer_class = s.TransactionSerializer
    filterset_class = TransactionFilterSet
    ordering_fields = [
        "id",
        "received_at",
        "finished_at",
        "state",
        "business_key",
        "attempts_count",
    ]
    ordering = ["-id"]

    def get_queryset(self):
        if self.action == "retrieve":
            return transaction_detail_queryset()
        return super().get_queryset()

    def get_serializer_class(self):
        return (
            s.TransactionDetailSerializer if self.action == "retrieve" else s.TransactionSerializer
        )

    @extend_schema(request=s.ReasonSerializer, responses={200: s.TransactionSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    @requires("integrations.retry_transaction")
    def retry(self, request: Request, pk: str) -> Response:
        data = _valid(s.ReasonSerializer, request)
        tx = actions.transaction_retry(
            transaction_id=int(pk), actor=request.user, reason=data["reason"]
        )
        return Response(s.TransactionSerializer(tx).data)

    @extend_schema(request=s.ReplaySerializer, responses={201: s.TransactionSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    @requires("integrations.replay_transaction")
    def replay(self, request: Request, pk: str) -> Response:
        data = _valid(s.ReplaySerializer, request)
        tx = actions.transaction_replay(
            transaction_id=int(pk),
            actor=request.user,
            payload=data.get("payload"),
            reason=data["reason"],
        )
        return Response(s.TransactionSerializer(tx).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=s.RequiredReasonSerializer, responses={200: s.TransactionSerializer, **ERRORS}
    )
    @action(detail=True, methods=["post"])
    @requires("integrations.cancel_transaction")
    def cancel(self, request: Request, pk: str) -> Response:
        data = _valid(s.RequiredReasonSerializer, request)
        tx = actions.transaction_cancel(
            transaction_id=int(pk), actor=request.user, reason=data["reason"]
        )
        return Response(s.TransactionSerializer(tx).data)

    @extend_schema(
        request=s.ReasonSerializer,
        responses={200: s.BulkRetryResultSerializer, **ERRORS},
        description="Retries every failed, dead or blocked transaction the query-string filter "
        "selects: they are queued at once; the bulk operation named in the answer "
        "(/api/v1/bulk-operations/{id}/) counts them as the workers run them.",
    )
    @action(detail=False, methods=["post"], url_path="bulk-retry")
    @requires("integrations.retry_transaction")
    def bulk_retry(self, request: Request) -> Response:
        data = _valid(s.ReasonSerializer, request)
        queryset = self.filter_queryset(self.get_queryset())
        operation = actions.transactions_bulk_retry(
            queryset=queryset,
            actor=request.user,
            reason=data["reason"],
            description=request.META.get("QUERY_STRING", ""),
        )
        return Response({"retried": operation.total, "operation": operation.pk})


class ConnectedSystemViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = system_list().select_related("breaker")
    serializer_class = s.ConnectedSystemSerializer
    lookup_field = "slug"
    ordering_fields = ["slug", "kind"]
    filterset_fields = ["kind", "enabled", "adapter"]

    @extend_schema(
        request=s.BreakerSetSerializer, responses={200: s.ConnectedSystemSerializer, **ERRORS}
    )
    @action(detail=True, methods=["post"])
    @requires("integrations.operate_circuitbreaker")
    def breaker(self, request: Request, slug: str) -> Response:
        """Opens or closes the system's circuit breaker by hand (audited)."""
        data = _valid(s.BreakerSetSerializer, request)
        system = self.get_object()
        actions.breaker_operate(
            system_id=system.pk, state=data["state"], actor=request.user, reason=data["reason"]
        )
        return Response(s.ConnectedSystemSerializer(self.get_queryset().get(pk=system.pk)).data)

    @extend_schema(responses={200: s.ConnectionSerializer})
    @action(detail=True, methods=["get"], url_path="connection")
    def connection(self, request: Request, slug: str) -> Response:
        """How the tower authenticates to the system (the secret never shown, only whether one
        is set)."""
        auth = OutboundAuth.objects.filter(system=self.get_object()).first()
        return Response(s.ConnectionSerializer(auth or OutboundAuth()).data)

    @extend_schema(
        request=s.ConnectionSerializer, responses={200: s.ConnectionSerializer, **ERRORS}
    )
    @connection.mapping.put
    @requires("integrations.change_connectedsystem")
    def connection_put(self, request: Request, slug: str) -> Response:
        data = _valid(s.ConnectionSerializer, request)
        auth = connection_set(
            system_id=self.get_object().pk,
            actor=request.user,
            kind=data["kind"],
            username=data.get("username", ""),
            secret=data.get("secret"),
            header_name=data.get("header_name", ""),
            header_prefix=data.get("header_prefix", ""),
            token_url=data.get("token_url", ""),
            scope=data.get("scope", ""),
            reason=data.get("reason", ""),
        )
        return Response(s.ConnectionSerializer(auth).data)

    @extend_schema(request=None, responses={200: s.ConnectionTestSerializer, **ERRORS})
    @action(detail=True, methods=["post"], url_path="test-connection")
    @requires("integrations.test_connectedsystem")
    def test_connection(self, request: Request, slug: str) -> Response:
        """One harmless call with the system's credentials; its answer, in words."""
        result = connection_check(system_id=self.get_object().pk, actor=request.user)
        return Response(s.ConnectionTestSerializer(result).data)

    @extend_schema(responses={200: s.SchemaUsageSerializer, **ERRORS})
    @action(detail=True, methods=["get"], url_path="schema-versions")
    def schema_versions(self, request: Request, slug: str) -> Response:
        """The canonical schema versions the system sent over the last CT_SCHEMA_USAGE_DAYS
        days, per event type, with how many and whether each is deprecated."""
        usage = system_schema_usage(system=self.get_object())
        return Response(s.SchemaUsageSerializer(usage).data)

    # --- field mappings: how the system's records map to canonical fields ---

    @extend_schema(responses={200: s.MappingStateSerializer(many=True), **ERRORS})
    @action(detail=True, methods=["get"], url_path="mappings")
    def mappings(self, request: Request, slug: str) -> Response:
        """Each record type the system sends: the mapping in force, the draft, the versions."""
        system = self.get_object()
        states = [mapping_state(system=system, record_type=kind) for kind in _record_types(system)]
        return Response(s.MappingStateSerializer(states, many=True).data)

    @extend_schema(responses={200: s.MappingStateSerializer, **ERRORS})
    @action(detail=True, methods=["get"], url_path=f"mappings/{RECORD_TYPE}")
    def mapping(self, request: Request, slug: str, record_type: str) -> Response:
        system = self.get_object()
        state = mapping_state(system=system, record_type=record_type)
        return Response(s.MappingStateSerializer(state).data)

    @extend_schema(
        request=s.MappingDraftSerializer, responses={200: s.FieldMappingSerializer, **ERRORS}
    )
    @action(detail=True, methods=["put"], url_path=f"mappings/{RECORD_TYPE}/draft")
    @requires("integrations.change_connectedsystem")
    def mapping_draft(self, request: Request, slug: str, record_type: str) -> Response:
        """Saves the draft (refused with each fault by its place in the document)."""
        data = _valid(s.MappingDraftSerializer, request)
        draft = mapping_draft_set(
            slug=self.get_object().slug,
            record_type=record_type,
            document=data["document"],
            note=data["note"],
            actor=request.user,
        )
        return Response(s.FieldMappingSerializer(draft).data)

    @extend_schema(
        request=s.ReasonSerializer, responses={200: s.MappingPublishedSerializer, **ERRORS}
    )
    @action(detail=True, methods=["post"], url_path=f"mappings/{RECORD_TYPE}/publish")
    @requires("integrations.change_connectedsystem")
    def mapping_publish(self, request: Request, slug: str, record_type: str) -> Response:
        """Publishes the draft; the work that waited for a better mapping runs again."""
        data = _valid(s.ReasonSerializer, request)
        published = mapping_draft_publish(
            slug=self.get_object().slug,
            record_type=record_type,
            actor=request.user,
            reason=data["reason"],
        )
        return Response(s.MappingPublishedSerializer(published).data)

    @extend_schema(
        request=s.MappingPreviewRequestSerializer,
        responses={200: s.MappingPreviewSerializer(many=True), **ERRORS},
    )
    @action(detail=True, methods=["post"], url_path=f"mappings/{RECORD_TYPE}/preview")
    @requires("integrations.change_connectedsystem")
    def mapping_preview(self, request: Request, slug: str, record_type: str) -> Response:
        """What a mapping makes of a sample body and of received transactions; stores nothing."""
        data = _valid(s.MappingPreviewRequestSerializer, request)
        previews = mapping_try(
            slug=self.get_object().slug,
            record_type=record_type,
            document=data["document"],
            sample=data["sample"],
            transaction_ids=data["transaction_ids"],
        )
        return Response(s.MappingPreviewSerializer(previews, many=True).data)

    @extend_schema(
        request=s.SigningSecretRotateSerializer,
        responses={201: s.SigningSecretRotatedSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="rotate-signing-secret")
    @requires("integrations.change_connectedsystem")
    def rotate_signing_secret(self, request: Request, slug: str) -> Response:
        """A new inbound signing secret (given, or generated), answered this once; the one it
        replaces verifies for ``CT_SIGNING_SECRET_GRACE_HOURS`` more (audited)."""
        data = _valid(s.SigningSecretRotateSerializer, request)
        system, secret = signing_secret_rotate_by(
            system_id=self.get_object().pk,
            actor=request.user,
            secret=data.get("secret") or None,
            reason=data["reason"],
        )
        body = {"secret": secret, "signing_secret": s.signing_state(system)}
        return Response(s.SigningSecretRotatedSerializer(body).data, status=201)

    @extend_schema(
        request=s.ReasonSerializer, responses={200: s.ConnectedSystemSerializer, **ERRORS}
    )
    @action(detail=True, methods=["post"], url_path="end-signing-grace")
    @requires("integrations.change_connectedsystem")
    def end_signing_grace(self, request: Request, slug: str) -> Response:
        """The secrets a rotation replaced stop verifying now (audited)."""
        data = _valid(s.ReasonSerializer, request)
        system = signing_grace_end_by(
            system_id=self.get_object().pk, actor=request.user, reason=data.get("reason", "")
        )
        return Response(s.ConnectedSystemSerializer(self.get_queryset().get(pk=system.pk)).data)


class EventSchemaViewSet(viewsets.ViewSet):
    """The canonical event types, each with its schema versions: which is current, which are
    deprecated (and from when), which are upcast."""

    required_permission = "integrations.view_connectedsystem"
    lookup_field = "event_type"
    lookup_value_regex = r"[a-z_]+\.[a-z_]+"

    @extend_schema(responses={200: s.EventSchemaSerializer(many=True)})
    def list(self, request: Request) -> Response:
        return Response(s.EventSchemaSerializer(event_schema_list(), many=True).data)

    @extend_schema(
        parameters=[OpenApiParameter("event_type", str, OpenApiParameter.PATH)],
        responses={200: s.EventSchemaDetailSerializer, **ERRORS},
    )
    def retrieve(self, request: Request, event_type: str) -> Response:
        """The type's versions with their JSON Schemas and examples."""
        found = event_schema_get(event_type=event_type)
        if found is None:
            raise NotFoundError(
                f"Unknown event type {event_type!r}.", errors={"event_type": [event_type]}
            )
        return Response(s.EventSchemaDetailSerializer(found).data)


class FlowViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = flow_list()
    serializer_class = s.FlowSerializer
    lookup_field = "kind"
    ordering_fields = ["kind"]
    filterset_fields = ["paused"]

    @extend_schema(request=s.ReasonSerializer, responses={200: s.FlowSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    @requires("integrations.pause_flow")
    def pause(self, request: Request, kind: str) -> Response:
        data = _valid(s.ReasonSerializer, request)
        flow = actions.flow_pause(flow=self.get_object(), actor=request.user, reason=data["reason"])
        return Response(s.FlowSerializer(flow).data)

    @extend_schema(request=s.ReasonSerializer, responses={200: s.FlowSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    @requires("integrations.pause_flow")
    def resume(self, request: Request, kind: str) -> Response:
        data = _valid(s.ReasonSerializer, request)
        flow = actions.flow_resume(
            flow=self.get_object(), actor=request.user, reason=data["reason"]
        )
        return Response(s.FlowSerializer(flow).data)


class ReconciliationView(APIView):
    """Starts a reconciliation run now (beat runs one nightly)."""

    required_permission = "integrations.retry_transaction"

    @extend_schema(request=s.ReasonSerializer, responses={202: s.TransactionSerializer, **ERRORS})
    def post(self, request: Request) -> Response:
        data = _valid(s.ReasonSerializer, request)
        run = actions.reconciliation_start(actor=request.user, reason=data["reason"])
        return Response(s.TransactionSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class ReconciliationDriftActionView(generics.GenericAPIView):
    """Runs a reconciliation drift's one-click fix (re-push the record to the system that
    differs, create the missing record, or build the missing invoice candidate); audited.
    The drift is resolved by the next run that no longer finds it."""

    required_permission = DRIFT_ACTION_PERMISSION
    queryset = drift_list()
    serializer_class = s.ReasonSerializer

    @extend_schema(request=s.ReasonSerializer, responses={202: s.TransactionSerializer, **ERRORS})
    def post(self, request: Request, pk: int) -> Response:
        data = _valid(s.ReasonSerializer, request)
        tx = drift_act(exception_id=pk, actor=request.user, reason=data["reason"])
        return Response(s.TransactionSerializer(tx).data, status=status.HTTP_202_ACCEPTED)


class ErpRouteViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Which ERP instance keeps each legal entity's books. Admins set and remove routes;
    with one ERP and no routes, every legal entity goes to it."""

    queryset = erp_route_list()
    serializer_class = s.ErpRouteSerializer
    filterset_fields = {"system__slug": ["exact"], "legal_entity__code": ["exact"]}

    @extend_schema(request=s.ErpRouteSetSerializer, responses={200: s.ErpRouteSerializer, **ERRORS})
    def create(self, request: Request) -> Response:
        """Routes a legal entity to an ERP (a new route, or a change of one); audited."""
        data = _valid(s.ErpRouteSetSerializer, request)
        route = actions.erp_route_assign(
            legal_entity_code=data["legal_entity"],
            system_slug=data["system"],
            actor=request.user,
            reason=data["reason"],
        )
        return Response(s.ErpRouteSerializer(route).data)

    @extend_schema(responses={204: None, **ERRORS})
    def destroy(self, request: Request, pk: str) -> Response:
        """Removes the route; audited."""
        actions.erp_route_remove(route=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SyncStateViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = sync_state_list()
    serializer_class = s.SyncStateSerializer
    filterset_class = SyncStateFilterSet
    ordering_fields = ["synced_at", "id"]
    ordering = ["-synced_at"]


class PollerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Scheduled pulls from systems without webhooks: read by a viewer, changed by an admin,
    run now by an operator."""

    queryset = Poller.objects.select_related("system")
    serializer_class = s.PollerSerializer
    filterset_class = PollerFilterSet
    ordering_fields = ["id", "last_started_at"]

    @extend_schema(request=s.PollerSerializer, responses={200: s.PollerSerializer, **ERRORS})
    def partial_update(self, request: Request, pk: str) -> Response:
        serializer = s.PollerSerializer(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        reason = changes.pop("reason", "")
        poller = poller_change(
            poller_id=serializer.instance.pk, actor=request.user, changes=changes, reason=reason
        )
        return Response(s.PollerSerializer(poller).data)

    @extend_schema(request=s.ReasonSerializer, responses={200: s.PollRunSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    @requires("integrations.run_poller")
    def run(self, request: Request, pk: str) -> Response:
        """Runs the poller now, outside its schedule (audited); 409 while it runs already."""
        data = _valid(s.ReasonSerializer, request)
        run = poller_run_now(
            poller_id=self.get_object().pk, actor=request.user, reason=data.get("reason", "")
        )
        return Response(s.PollRunSerializer(run).data)


class CompensationViewSet(viewsets.ReadOnlyModelViewSet):
    """Compensating actions the engine proposed; execute one (a second person approves one
    that moves money), approve or reject it, each with a reason."""

    queryset = compensation_list()
    serializer_class = s.CompensationSerializer
    filterset_class = CompensationFilterSet
    ordering_fields = ["id", "created_at", "updated_at", "state", "amount"]
    ordering = ["-id"]

    @extend_schema(
        request=s.RequiredReasonSerializer,
        responses={200: s.CompensationSerializer, **ERRORS},
        description="Executes the compensation, or, where money moves, asks a second "
        "person to approve it first.",
    )
    @action(detail=True, methods=["post"])
    @requires("integrations.request_compensation")
    def execute(self, request: Request, pk: str) -> Response:
        return self._act(compensation_request, request, pk)

    @extend_schema(
        request=s.RequiredReasonSerializer, responses={200: s.CompensationSerializer, **ERRORS}
    )
    @action(detail=True, methods=["post"])
    @requires("integrations.approve_compensation")
    def approve(self, request: Request, pk: str) -> Response:
        return self._act(compensation_approve, request, pk)

    @extend_schema(
        request=s.RequiredReasonSerializer, responses={200: s.CompensationSerializer, **ERRORS}
    )
    @action(detail=True, methods=["post"])
    @requires("integrations.request_compensation")
    def reject(self, request: Request, pk: str) -> Response:
        return self._act(compensation_reject, request, pk)

    def _act(self, service, request: Request, pk: str) -> Response:
        data = _valid(s.RequiredReasonSerializer, request)
        compensation = service(compensation_id=int(pk), actor=request.user, reason=data["reason"])
        compensation = compensation_list().get(pk=compensation.pk)
        return Response(s.CompensationSerializer(compensation, context={"request": request}).data)


def _valid(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ImportJobViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Batch imports of history from a CSV or JSON Lines file; GET one to follow its progress."""

    queryset = ImportJob.objects.select_related("system", "requested_by").defer("content")
    serializer_class = s.ImportJobSerializer
    filterset_fields = ["kind", "state", "dry_run"]
    ordering_fields = ["created_at", "id"]
    ordering = ["-created_at", "-id"]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": s.ImportStartSerializer},
        responses={202: s.ImportJobSerializer, **ERRORS},
        description="Uploads a file and starts its import (or dry run) in a worker. Answers "
        "at once; follow `progress` on the returned job. A file or a column that does not fit "
        "is a 400 naming it; a row that does not fit is refused on its own (see `refused`).",
    )
    def create(self, request: Request, *args, **kwargs) -> Response:
        data = _valid(s.ImportStartSerializer, request)
        upload = data["file"]
        job = import_request(
            actor=request.user,
            kind=data["kind"],
            content=upload.read(),
            file_name=upload.name or "",
            file_format=data.get("format"),
            system_slug=data.get("system"),
            dry_run=data["dry_run"],
            push_downstream=data["push_downstream"],
        )
        return Response(s.ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        parameters=[OpenApiParameter("outcome", str, enum=ImportRowOutcome.values, required=False)],
        responses={200: s.ImportRowSerializer(many=True), **ERRORS},
        description="What each row did (or, in a dry run, would do): the fields that change, "
        "the errors by column of a refused row.",
    )
    @action(detail=True, methods=["get"])
    def rows(self, request: Request, pk: str) -> Response:
        job = self.get_object()
        rows = job.rows.order_by("number")
        if outcome := request.query_params.get("outcome"):
            if outcome not in ImportRowOutcome.values:
                raise ApplicationError(
                    "Unknown outcome.",
                    errors={"outcome": [f"One of: {', '.join(ImportRowOutcome.values)}."]},
                )
            rows = rows.filter(outcome=outcome)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(s.ImportRowSerializer(page, many=True).data)

    @extend_schema(
        responses={(200, "text/csv"): OpenApiTypes.STR, **ERRORS},
        description="The refused rows (and those a business rule held) as CSV: `row`, the "
        "row's columns as read, and `reason`.",
    )
    @action(
        detail=True,
        methods=["get"],
        renderer_classes=[JSONRenderer, CsvRenderer],
        pagination_class=None,
    )
    @requires("integrations.add_importjob")
    def refused(self, request: Request, pk: str) -> StreamingHttpResponse:
        job = self.get_object()
        response = StreamingHttpResponse(
            import_refused_csv(job=job), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-refused.csv"'
        return response

    @extend_schema(request=None, responses={202: s.ImportJobSerializer, **ERRORS})
    @action(detail=True, methods=["post"], parser_classes=[JSONParser, FormParser])
    @requires("integrations.add_importjob")
    def resume(self, request: Request, pk: str) -> Response:
        """Goes on with an interrupted import after its last committed chunk."""
        job = import_resume(actor=request.user, job=self.get_object())
        return Response(s.ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
