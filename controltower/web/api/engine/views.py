from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http.request import RawPostDataException
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from controltower.operations.selectors.reconciliation import DRIFT_ACTION_PERMISSION, drift_list
from controltower.operations.services import actions
from controltower.operations.services.connections import (
    connection_check,
    connection_set,
    signing_grace_end_by,
    signing_secret_rotate_by,
)
from controltower.operations.services.mappings import (
    mapping_draft_publish,
    mapping_draft_set,
    mapping_state,
    mapping_try,
)
from controltower.operations.services.pollers import poller_change, poller_run_now
from controltower.operations.services.reconciliation import drift_act
from controltower.web.api.engine import serializers as s
from controltower.web.api.permissions import requires
from integrations.filtersets import PollerFilterSet, SyncStateFilterSet, TransactionFilterSet
from integrations.models import OutboundAuth, Poller
from integrations.selectors.health import flow_list, system_list
from integrations.selectors.routing import erp_route_list
from integrations.selectors.sync import sync_state_list
from integrations.selectors.transactions import transaction_detail_queryset, transaction_list
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


def _valid(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
