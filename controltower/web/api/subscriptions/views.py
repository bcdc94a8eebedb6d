"""Outbound event subscriptions: an admin registers and changes them, everyone with a role
reads them and their delivery log, an operator sends an event again. The same services as
the pages (``controltower.operations.services.subscriptions``)."""

from __future__ import annotations

from django.db.models import Count, Q
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from controltower.operations.services import subscriptions as services
from controltower.web.api.engine.serializers import ErrorSerializer, ReasonSerializer
from controltower.web.api.permissions import requires
from controltower.web.api.subscriptions import serializers as s
from integrations.choices import DeliveryState
from integrations.filtersets import DeliveryFilterSet
from integrations.models import Delivery, Subscription

ERRORS = {code: ErrorSerializer for code in (400, 401, 403, 404, 409)}
REPLAY = "integrations.replay_delivery"


def subscription_queryset():
    return Subscription.objects.annotate(
        waiting=Count("deliveries", filter=~Q(deliveries__state=DeliveryState.DELIVERED))
    ).order_by("name")


class SubscriptionViewSet(viewsets.ModelViewSet):
    """Endpoints that receive the tower's events, signed with their own secret."""

    queryset = subscription_queryset()
    serializer_class = s.SubscriptionSerializer
    filterset_fields = ["enabled", "owner_team"]
    ordering_fields = ["name", "id", "created_at"]

    @extend_schema(
        request=s.SubscriptionSerializer, responses={201: s.SubscriptionSecretSerializer, **ERRORS}
    )
    def create(self, request: Request) -> Response:
        """Registers an endpoint. The answer holds its signing secret: shown this once."""
        data = _valid(s.SubscriptionSerializer, request)
        subscription, secret = services.subscription_create(
            actor=request.user,
            name=data["name"],
            url=data["url"],
            event_types=data["event_types"],
            owner_team=data.get("owner_team", ""),
            reason=data.get("reason", ""),
        )
        return _with_secret(subscription, secret, status.HTTP_201_CREATED)

    @extend_schema(
        request=s.SubscriptionSerializer, responses={200: s.SubscriptionSerializer, **ERRORS}
    )
    def update(self, request: Request, pk: str, partial: bool = False) -> Response:
        serializer = s.SubscriptionSerializer(self.get_object(), data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        reason = changes.pop("reason", "")
        subscription = services.subscription_change(
            actor=request.user,
            subscription_id=serializer.instance.pk,
            changes=changes,
            reason=reason,
        )
        return Response(s.SubscriptionSerializer(self.get_queryset().get(pk=subscription.pk)).data)

    def partial_update(self, request: Request, pk: str) -> Response:
        return self.update(request, pk, partial=True)

    def destroy(self, request: Request, pk: str) -> Response:
        services.subscription_delete(actor=request.user, subscription_id=self.get_object().pk)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=s.SubscriptionSwitchSerializer, responses={200: s.SubscriptionSerializer, **ERRORS}
    )
    @action(detail=True, methods=["post"])
    @requires("integrations.change_subscription")
    def switch(self, request: Request, pk: str) -> Response:
        """Disables the subscription (its events wait) or enables it (they are sent, in order)."""
        data = _valid(s.SubscriptionSwitchSerializer, request)
        subscription = services.subscription_switch(
            actor=request.user,
            subscription_id=self.get_object().pk,
            enabled=data["enabled"],
            reason=data["reason"],
        )
        return Response(s.SubscriptionSerializer(self.get_queryset().get(pk=subscription.pk)).data)

    @extend_schema(
        request=ReasonSerializer, responses={200: s.SubscriptionSecretSerializer, **ERRORS}
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    @requires("integrations.change_subscription")
    def rotate_secret(self, request: Request, pk: str) -> Response:
        """A new signing secret, shown in this answer only; the old one stops at once."""
        data = _valid(ReasonSerializer, request)
        subscription, secret = services.subscription_secret_rotate(
            actor=request.user, subscription_id=self.get_object().pk, reason=data["reason"]
        )
        return _with_secret(subscription, secret, status.HTTP_200_OK)

    @extend_schema(
        request=s.ReplayRangeSerializer, responses={200: s.ReplayCountSerializer, **ERRORS}
    )
    @action(detail=True, methods=["post"])
    @requires(REPLAY)
    def replay(self, request: Request, pk: str) -> Response:
        """Sends again every event published to the subscription in [since, until): same
        event ids, new attempts."""
        data = _valid(s.ReplayRangeSerializer, request)
        count = services.deliveries_resend(
            actor=request.user,
            subscription_id=self.get_object().pk,
            since=data["since"],
            until=data["until"],
            reason=data["reason"],
        )
        return Response({"deliveries": count})


class DeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The delivery log: each event sent to each subscription, with its attempts."""

    queryset = Delivery.objects.select_related("event").prefetch_related("attempts")
    serializer_class = s.DeliverySerializer
    filterset_class = DeliveryFilterSet
    ordering_fields = ["id", "sequence", "next_attempt_at", "delivered_at"]

    @extend_schema(request=ReasonSerializer, responses={200: s.DeliverySerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    @requires(REPLAY)
    def replay(self, request: Request, pk: str) -> Response:
        """Sends this event to its subscription again: same event id, new attempts."""
        data = _valid(ReasonSerializer, request)
        delivery = services.delivery_resend(
            actor=request.user, delivery_id=self.get_object().pk, reason=data["reason"]
        )
        return Response(s.DeliverySerializer(self.get_queryset().get(pk=delivery.pk)).data)


def _with_secret(subscription: Subscription, secret: str, code: int) -> Response:
    subscription = subscription_queryset().get(pk=subscription.pk)
    subscription.secret = secret
    response = Response(s.SubscriptionSecretSerializer(subscription).data, status=code)
    response["Cache-Control"] = "no-store"  # the answer holds the secret
    return response


def _valid(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
