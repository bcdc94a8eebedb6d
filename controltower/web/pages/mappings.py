"""A system's field mappings: how its records' business values map to canonical fields.

Everyone who reads the systems sees the mapping in force and its versions; an admin edits a
draft, tries it on a pasted sample and on the system's last received payloads side by side,
and publishes it. The same services as the API.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from canonical.errors import ApplicationError
from controltower.operations.services.mappings import (
    mapping_draft_publish,
    mapping_draft_set,
    mapping_state,
    mapping_try,
)
from controltower.web.forms.actions import MappingForm
from controltower.web.pages.common import require
from controltower.web.pages.systems import VIEW
from integrations.adapters.mapping import TRANSFORMS
from integrations.adapters.vendor import canonical_fields
from integrations.models import ConnectedSystem
from integrations.selectors.mappings import mapping_exceptions
from integrations.services.mappings import mapping_samples, vendor_adapter

CHANGE = "integrations.change_connectedsystem"
ACTIONS = ("try", "save", "publish")


def _system(slug: str) -> ConnectedSystem:
    return get_object_or_404(ConnectedSystem, slug=slug)


def _kind(spec: dict) -> str:
    """A canonical field's schema in words: "string (date)", "one of: fixed_fee, retainer"."""
    if spec.get("enum"):
        return "one of: " + ", ".join(str(value) for value in spec["enum"] if value is not None)
    kinds = spec.get("type", "")
    text = " or ".join(kinds) if isinstance(kinds, list) else str(kinds)
    return f"{text} ({spec['format']})" if spec.get("format") else text


@login_required
def system_mappings(request: HttpRequest, slug: str) -> HttpResponse:
    require(request, VIEW, "Your role may not read the systems.")
    system = _system(slug)
    adapter = vendor_adapter(system)
    kinds = adapter.record_types if adapter is not None else []
    waiting = mapping_exceptions(system)
    rows = [
        {
            "state": mapping_state(system=system, record_type=kind),
            "waiting": waiting.get(kind),
        }
        for kind in kinds
    ]
    return render(request, "integrations/systems/mappings.html", {"system": system, "rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def system_mapping(request: HttpRequest, slug: str, record_type: str) -> HttpResponse:
    require(request, VIEW, "Your role may not read the systems.")
    system = _system(slug)
    adapter = vendor_adapter(system)
    if adapter is None or record_type not in adapter.record_types:
        raise Http404(f"{system.name} sends no {record_type} records.")
    state = mapping_state(system=system, record_type=record_type)
    samples = mapping_samples(system)
    can_change = request.user.has_perm(CHANGE)
    previews, status = None, 200
    if request.method == "POST":
        require(request, CHANGE, "Only an admin may change a system's mapping.")
        action = request.POST.get("action", "")
        form = MappingForm(request.POST, samples=samples)
        if action not in ACTIONS:
            form.add_error(None, f"Choose one of: {', '.join(ACTIONS)}.")
        elif form.is_valid():
            data = form.cleaned_data
            try:
                if action == "try":
                    previews = mapping_try(
                        slug=system.slug,
                        record_type=record_type,
                        document=data["document_value"],
                        sample=data["sample"],
                        transaction_ids=data["transactions"],
                    )
                else:
                    draft = mapping_draft_set(
                        slug=system.slug,
                        record_type=record_type,
                        document=data["document_value"],
                        note=data["note"],
                        actor=request.user,
                    )
                    if action == "save":
                        messages.success(request, f"Saved version {draft.version} as the draft.")
                        return redirect(
                            "systems:mapping", slug=system.slug, record_type=record_type
                        )
                    published = mapping_draft_publish(
                        slug=system.slug,
                        record_type=record_type,
                        actor=request.user,
                        reason=data["reason"],
                    )
                    released = published.released
                    messages.success(
                        request,
                        f"Published version {draft.version}: {system.name}'s {record_type} "
                        "records are read with it from now on"
                        + (f"; {released} held exceptions run again." if released else "."),
                    )
                    return redirect("systems:mapping", slug=system.slug, record_type=record_type)
            except ApplicationError as error:
                form.add_application_error(error)
        if previews is None:
            status = 400
    else:
        start = state.draft.document if state.draft else state.document
        form = MappingForm(
            initial={
                "document": json.dumps(start, indent=2, ensure_ascii=False),
                "note": state.draft.note if state.draft else "",
                "transactions": [tx.pk for tx in samples[:3]],
            },
            samples=samples,
        )
    return render(
        request,
        "integrations/systems/mapping.html",
        {
            "system": system,
            "record_type": record_type,
            "state": state,
            "document_text": json.dumps(state.document, indent=2, ensure_ascii=False),
            "form": form,
            "previews": previews,
            "can_change": can_change,
            "fields": [(name, _kind(spec)) for name, spec in canonical_fields(record_type).items()],
            "transforms": sorted(TRANSFORMS),
            "waiting": mapping_exceptions(system).get(record_type),
            "samples": samples,
        },
        status=status,
    )
