"""A system's canonical schema versions: which versions of each event type it sent lately and
how often, with the deprecated ones marked, beside the versions the tower reads. The same
selectors as the API's ``schema-versions`` and ``schemas`` endpoints."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from controltower.web.pages.common import require
from controltower.web.pages.systems import VIEW
from integrations.models import ConnectedSystem
from integrations.selectors.schemas import event_schema_list, system_schema_usage


@login_required
@require_GET
def system_schemas(request: HttpRequest, slug: str) -> HttpResponse:
    require(request, VIEW, "Your role may not read the systems.")
    system = get_object_or_404(ConnectedSystem, slug=slug)
    return render(
        request,
        "integrations/systems/schemas.html",
        {
            "system": system,
            "usage": system_schema_usage(system=system),
            "schemas": event_schema_list(),
        },
    )
