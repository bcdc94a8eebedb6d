"""Event subscriptions: endpoints outside the tower that receive its events, signed.

An admin registers one (its signing secret shown on that answer only), changes it, gives
it a new secret, disables and enables it; everyone with a role reads its delivery log; an
operator sends one event, or a time range of them, again. The same services as
``/api/v1/subscriptions/`` and ``/api/v1/deliveries/``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from canonical.errors import ApplicationError
from controltower.operations.models import Team
from controltower.operations.services import subscriptions as services
from controltower.web.api.subscriptions.views import subscription_queryset
from controltower.web.forms.actions import ReasonForm, ReplayRangeForm, SubscriptionForm
from controltower.web.pages.common import require
from controltower.web.pages.config import SECTIONS
from integrations.choices import DeliveryState
from integrations.filtersets import DeliveryFilterSet
from integrations.models import Delivery, Subscription

VIEW = "integrations.view_subscription"
ADD = "integrations.add_subscription"
CHANGE = "integrations.change_subscription"
REPLAY = "integrations.replay_delivery"
LOG_ROWS = 200


def _nav(request: HttpRequest) -> dict:
    """The configuration pages' navigation, with this page marked; the other sections only
    for an admin, whose pages they are."""
    sections = SECTIONS.values() if request.user.has_perm(CHANGE) else []
    return {"sections": sections, "subscriptions_nav": True}


def _teams() -> list[str]:
    return list(Team.objects.order_by("name").values_list("name", flat=True))


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"  # an answer may hold a signing secret
    return response


@login_required
@require_GET
def subscription_list(request: HttpRequest) -> HttpResponse:
    require(request, VIEW, "Your role may not read the event subscriptions.")
    return render(
        request,
        "controltower/subscriptions/list.html",
        {
            "subscriptions": subscription_queryset(),
            "can_add": request.user.has_perm(ADD),
            **_nav(request),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def subscription_create_view(request: HttpRequest) -> HttpResponse:
    require(request, ADD, "Only an admin may register an event subscription.")
    form = SubscriptionForm(request.POST or None, teams=_teams())
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                subscription, secret = services.subscription_create(
                    actor=request.user,
                    name=data["name"],
                    url=data["url"],
                    event_types=data["event_types"],
                    owner_team=data["owner_team"],
                    reason=data["reason"],
                )
            except ApplicationError as error:
                form.add_application_error(error)
                status = 400
            else:
                messages.success(request, f"Registered {subscription.name}.")
                return _no_store(_detail(request, subscription, new_secret=secret))
        else:
            status = 400
    return render(
        request,
        "controltower/subscriptions/form.html",
        {"form": form, **_nav(request)},
        status=status,
    )


def _detail(
    request: HttpRequest,
    subscription: Subscription,
    *,
    new_secret: str = "",
    form: SubscriptionForm | None = None,
    replay_form: ReplayRangeForm | None = None,
    status: int = 200,
) -> HttpResponse:
    subscription = subscription_queryset().get(pk=subscription.pk)
    filterset = DeliveryFilterSet(
        request.GET or None,
        queryset=Delivery.objects.filter(subscription=subscription)
        .select_related("event")
        .order_by("-id"),
    )
    valid = filterset.is_valid() if request.GET else True
    log = list(filterset.qs[:LOG_ROWS]) if valid else []
    context = {
        "subscription": subscription,
        "log": log,
        "log_limit": LOG_ROWS,
        "filter_form": filterset.form,
        "valid": valid,
        "states": DeliveryState,
        "new_secret": new_secret,
        "can_change": request.user.has_perm(CHANGE),
        "can_replay": request.user.has_perm(REPLAY),
        "form": form
        or SubscriptionForm(
            initial={
                "name": subscription.name,
                "url": subscription.url,
                "event_types": subscription.event_types,
                "owner_team": subscription.owner_team,
            },
            teams=_teams(),
        ),
        "replay_form": replay_form or ReplayRangeForm(),
        **_nav(request),
    }
    if request.htmx and request.GET:
        template = "controltower/subscriptions/partials/_delivery_log.html"
    else:
        template = "controltower/subscriptions/detail.html"
    return render(request, template, context, status=status if valid else 400)


@login_required
@require_GET
def subscription_detail(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, VIEW, "Your role may not read the event subscriptions.")
    return _detail(request, get_object_or_404(Subscription, pk=pk))


@login_required
@require_POST
def subscription_edit(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, CHANGE, "Only an admin may change an event subscription.")
    subscription = get_object_or_404(Subscription, pk=pk)
    form = SubscriptionForm(request.POST, teams=_teams())
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.subscription_change(
                actor=request.user,
                subscription_id=subscription.pk,
                changes={name: data[name] for name in services.CHANGEABLE},
                reason=data["reason"],
            )
        except ApplicationError as error:
            form.add_application_error(error)
        else:
            messages.success(request, f"Saved {subscription.name}.")
            return redirect("subscriptions:detail", pk=pk)
    return _detail(request, subscription, form=form, status=400)


@login_required
@require_POST
def subscription_switch_view(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, CHANGE, "Only an admin may disable or enable an event subscription.")
    subscription = get_object_or_404(Subscription, pk=pk)
    form = ReasonForm(request.POST)
    reason = form.cleaned_data.get("reason", "") if form.is_valid() else ""
    enabled = request.POST.get("enabled") == "1"
    services.subscription_switch(
        actor=request.user, subscription_id=subscription.pk, enabled=enabled, reason=reason
    )
    messages.success(
        request,
        f"Enabled {subscription.name}: its waiting events are sent, in order."
        if enabled
        else f"Disabled {subscription.name}: its events wait until it is enabled.",
    )
    return redirect("subscriptions:detail", pk=pk)


@login_required
@require_POST
def subscription_rotate_view(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, CHANGE, "Only an admin may give an event subscription a new secret.")
    subscription = get_object_or_404(Subscription, pk=pk)
    form = ReasonForm(request.POST)
    reason = form.cleaned_data.get("reason", "") if form.is_valid() else ""
    subscription, secret = services.subscription_secret_rotate(
        actor=request.user, subscription_id=subscription.pk, reason=reason
    )
    return _no_store(_detail(request, subscription, new_secret=secret))


@login_required
@require_POST
def subscription_replay_view(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, REPLAY, "Your role may not send events again.")
    subscription = get_object_or_404(Subscription, pk=pk)
    form = ReplayRangeForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            count = services.deliveries_resend(
                actor=request.user,
                subscription_id=subscription.pk,
                since=data["since"],
                until=data["until"],
                reason=data["reason"],
            )
        except ApplicationError as error:
            form.add_application_error(error)
        else:
            noun = "event" if count == 1 else "events"
            messages.success(request, f"Sending {count} {noun} to {subscription.name} again.")
            return redirect("subscriptions:detail", pk=pk)
    return _detail(request, subscription, replay_form=form, status=400)


@login_required
@require_POST
def delivery_replay_view(request: HttpRequest, pk: int, delivery_id: int) -> HttpResponse:
    require(request, REPLAY, "Your role may not send events again.")
    delivery = get_object_or_404(Delivery, pk=delivery_id, subscription_id=pk)
    form = ReasonForm(request.POST)
    reason = form.cleaned_data.get("reason", "") if form.is_valid() else ""
    try:
        services.delivery_resend(actor=request.user, delivery_id=delivery.pk, reason=reason)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Sending {delivery.event} again (same event id).")
    return redirect("subscriptions:detail", pk=pk)
