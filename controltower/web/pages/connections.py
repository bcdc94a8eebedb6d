"""A system's connection: how the tower authenticates to it (an admin sets it, nobody reads
the secret back) and a button that tests it with one harmless call (an operator or admin).
The same ``connection_set`` / ``connection_check`` services as the API."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from canonical.errors import ApplicationError
from controltower.operations.services.connections import (
    connection_check,
    connection_set,
    signing_grace_end_by,
    signing_secret_rotate_by,
)
from controltower.web.forms.actions import ConnectionForm, ReasonForm, SigningSecretRotateForm
from controltower.web.pages.common import require
from controltower.web.pages.systems import VIEW
from integrations.models import ConnectedSystem, OutboundAuth
from integrations.selectors.health import authentication_exception

CHANGE = "integrations.change_connectedsystem"
TEST = "integrations.test_connectedsystem"
FIELDS = ("kind", "username", "header_name", "header_prefix", "token_url", "scope")


def _initial(auth: OutboundAuth) -> dict[str, str]:
    return {name: getattr(auth, name) for name in FIELDS}


@login_required
@require_http_methods(["GET", "POST"])
def system_connection(request: HttpRequest, slug: str) -> HttpResponse:
    require(request, VIEW, "Your role may not read the systems.")
    system = get_object_or_404(ConnectedSystem, slug=slug)
    auth = OutboundAuth.objects.filter(system=system).first() or OutboundAuth(system=system)
    status = 200
    if request.method == "POST":
        require(request, CHANGE, "Only an admin may change how the tower authenticates.")
        form = ConnectionForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                connection_set(
                    system_id=system.pk,
                    actor=request.user,
                    secret=data["secret"] or None,
                    **{name: data[name] for name in FIELDS},
                    reason=data["reason"],
                )
            except ApplicationError as error:
                form.add_application_error(error)
            else:
                messages.success(
                    request,
                    f"Saved how the tower authenticates to {system.name}. Test the connection "
                    "to release the work waiting for it.",
                )
                return redirect("systems:connection", slug=system.slug)
        status = 400
    else:
        form = ConnectionForm(initial=_initial(auth))
    return render(
        request,
        "integrations/systems/connection.html",
        {
            "system": system,
            "auth": auth,
            "form": form,
            "waiting": authentication_exception(system),
            "can_change": request.user.has_perm(CHANGE),
            "can_test": request.user.has_perm(TEST),
        },
        status=status,
    )


@login_required
@require_POST
def system_connection_test(request: HttpRequest, slug: str) -> HttpResponse:
    require(request, TEST, "Only an operator or an admin may test a system's connection.")
    system = get_object_or_404(ConnectedSystem, slug=slug)
    result = connection_check(system_id=system.pk, actor=request.user)
    (messages.success if result.ok else messages.error)(request, result.message)
    return redirect(reverse("systems:connection", kwargs={"slug": system.slug}))


@login_required
@require_http_methods(["GET", "POST"])
def system_signing_secret(request: HttpRequest, slug: str) -> HttpResponse:
    """Where a system's inbound signing secret comes from, and (an admin) its rotation. The new
    secret is shown on the answer to the rotation only, never stored anywhere it can be read."""
    require(request, VIEW, "Your role may not read the systems.")
    system = get_object_or_404(ConnectedSystem, slug=slug)
    new_secret = ""
    status = 200
    form = SigningSecretRotateForm()
    if request.method == "POST":
        require(request, CHANGE, "Only an admin may rotate a system's signing secret.")
        form = SigningSecretRotateForm(request.POST)
        if form.is_valid():
            try:
                system, new_secret = signing_secret_rotate_by(
                    system_id=system.pk,
                    actor=request.user,
                    secret=form.cleaned_data["secret"] or None,
                    reason=form.cleaned_data["reason"],
                )
            except ApplicationError as error:
                form.add_application_error(error)
                status = 400
            else:
                form = SigningSecretRotateForm()
        else:
            status = 400
    response = render(
        request,
        "integrations/systems/signing_secret.html",
        {
            "system": system,
            "form": form,
            "new_secret": new_secret,
            "grace_hours": settings.CT_SIGNING_SECRET_GRACE_HOURS,
            "previous_valid": system.previous_secrets_valid(),
            "can_change": request.user.has_perm(CHANGE),
        },
        status=status,
    )
    response["Cache-Control"] = "no-store"  # the answer to a rotation holds the new secret
    return response


@login_required
@require_POST
def system_signing_grace_end(request: HttpRequest, slug: str) -> HttpResponse:
    require(request, CHANGE, "Only an admin may end a signing secret's grace period.")
    system = get_object_or_404(ConnectedSystem, slug=slug)
    form = ReasonForm(request.POST)
    reason = form.cleaned_data.get("reason", "") if form.is_valid() else ""
    signing_grace_end_by(system_id=system.pk, actor=request.user, reason=reason)
    messages.success(request, "The replaced secrets no longer verify.")
    return redirect("systems:signing-secret", slug=system.slug)
