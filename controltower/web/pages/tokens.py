"""A person's API tokens: made (the key shown on the answer only), listed by their first
characters with their last use, revoked. The same services as ``/api/v1/api-tokens/``."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from canonical.errors import ApplicationError
from controltower.operations.services.tokens import (
    MANAGE_ALL,
    api_token_create,
    api_token_revoke,
    api_tokens_visible,
)
from controltower.web.forms.actions import ApiTokenForm, ReasonForm


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    manages_all = request.user.has_perm(MANAGE_ALL)
    new_key = ""
    status = 200
    form = ApiTokenForm(initial={"days": settings.CT_API_TOKEN_DAYS})
    if request.method == "POST":
        form = ApiTokenForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                _, new_key = api_token_create(
                    actor=request.user,
                    name=data["name"],
                    days=data["days"],
                    username=data["user"] or None,
                )
            except ApplicationError as error:
                form.add_application_error(error)
                status = error.status_code if error.status_code == 403 else 400
            else:
                form = ApiTokenForm(initial={"days": settings.CT_API_TOKEN_DAYS})
        else:
            status = 400
    if not manages_all:
        form.fields.pop("user")
    response = render(
        request,
        "controltower/account/tokens.html",
        {
            "tokens": api_tokens_visible(actor=request.user).order_by("-created")[:500],
            "form": form,
            "new_key": new_key,
            "manages_all": manages_all,
        },
        status=status,
    )
    response["Cache-Control"] = "no-store"  # the answer to "make" holds the key
    return response


@login_required
@require_POST
def api_token_revoke_view(request: HttpRequest, prefix: str) -> HttpResponse:
    form = ReasonForm(request.POST)
    reason = form.cleaned_data.get("reason", "") if form.is_valid() else ""
    try:
        token = api_token_revoke(actor=request.user, prefix=prefix, reason=reason)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Revoked {token}: it no longer authenticates.")
    return redirect("account:tokens")
