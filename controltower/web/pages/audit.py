"""The audit log page: who did what and when, searchable, with each change as a field diff."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_GET

from controltower.operations.filtersets import AuditEventFilterSet
from controltower.operations.models import AuditEvent
from controltower.operations.selectors.data_access import audit_values
from controltower.web.pages.config import SECTIONS
from controltower.web.pages.lists import Column, listing, page_filter_form

LABELS = {
    "user": "User",
    "action": "Action",
    "object_type": "Object type",
    "object_id": "Object id",
    "q": "Text",
    "at_after": "From",
    "at_before": "Until",
}
CHOICE_LIMIT = 300
SUGGESTION_SCAN = 2000
SECTION_OF_MODEL = {section.model._meta.label_lower: section.slug for section in SECTIONS.values()}


@dataclass(frozen=True)
class Change:
    """One field of an audited object, before and after."""

    name: str
    label: str
    before: Any
    after: Any

    @property
    def kind(self) -> str:
        if self.before is _MISSING:
            return "added"
        if self.after is _MISSING:
            return "removed"
        return "changed"


class _Missing:
    def __repr__(self) -> str:
        return "—"

    def __str__(self) -> str:
        return ""


_MISSING = _Missing()


def _model(object_type: str) -> type[models.Model] | None:
    try:
        return apps.get_model(object_type)
    except (LookupError, ValueError):
        return None


def _field(model: type[models.Model] | None, name: str) -> models.Field | None:
    if model is None:
        return None
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


def _label(model: type[models.Model] | None, name: str) -> str:
    found = _field(model, name)
    label = str(getattr(found, "verbose_name", "") or name.replace("_", " "))
    return label[:1].upper() + label[1:]


def audit_changes(event: AuditEvent, *, user: Any) -> list[Change]:
    """The fields an audited action changed; for a creation or deletion, every field it had
    (what ``user`` may not see of a canonical record masked)."""
    before, after = audit_values(
        object_type=event.object_type, before=event.before, after=event.after, user=user
    )
    model = _model(event.object_type)
    if not isinstance(before, dict) and not isinstance(after, dict):
        if before is None and after is None:
            return []
        return [Change("value", "Value", before, after)]
    before = before if isinstance(before, dict) else {}
    after = after if isinstance(after, dict) else {}
    names = [*after.keys(), *(k for k in before if k not in after)]
    key = model._meta.pk.name if model is not None else "id"
    changes = []
    for name in names:
        if name in (key, "id"):
            continue  # the object column names it already
        old, new = before.get(name, _MISSING), after.get(name, _MISSING)
        if old == new:
            continue
        if event.before is None and new in (None, "", [], {}):
            continue  # a new object's empty fields say nothing
        if event.after is None and old in (None, "", [], {}):
            continue
        changes.append(Change(name, _label(model, name), old, new))
    return changes


def _related_names(events: list[AuditEvent], diffs: dict[int, list[Change]]) -> dict[Any, str]:
    """Names for the ids a diff holds (team 3 is "Finance ops"), in one query per model."""
    wanted: dict[type[models.Model], set[Any]] = defaultdict(set)
    for event in events:
        model = _model(event.object_type)
        for change in diffs[event.pk]:
            target = _field(model, change.name)
            if target is None or not target.is_relation or target.related_model is None:
                continue
            for value in (change.before, change.after):
                for pk in value if isinstance(value, list) else [value]:
                    if _is_key(target.related_model, pk):
                        wanted[target.related_model].add(pk)
    names = {}
    for model, pks in wanted.items():
        for pk, obj in model._default_manager.in_bulk(list(pks)).items():
            names[(model, str(pk))] = str(obj)
    return names


def _is_key(model: type[models.Model], value: Any) -> bool:
    """Whether ``value`` can be a primary key of ``model`` (not a name written in its place)."""
    if not isinstance(value, int | str) or value == "" or isinstance(value, bool):
        return False
    try:
        model._meta.pk.to_python(value)
    except ValidationError:
        return False
    return True


def _shown(value: Any, related: type[models.Model] | None, names: dict[Any, str]) -> str:
    if value is _MISSING or value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(_shown(v, related, names) for v in value) or "none"
    if related is not None:
        name = names.get((related, str(value)))
        if name is not None:
            return name
        # Some events record the related object by its name (an SLA breach its policy's).
        return f"#{value} (deleted)" if _is_key(related, value) else str(value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def _diff_html(event: AuditEvent, changes: list[Change], names: dict[Any, str]) -> str:
    model = _model(event.object_type)
    rows = []
    for change in changes:
        target = _field(model, change.name)
        related = target.related_model if target is not None and target.is_relation else None
        rows.append(
            {
                "label": change.label,
                "kind": change.kind,
                "before": _shown(change.before, related, names),
                "after": _shown(change.after, related, names),
            }
        )
    return render_to_string(
        "controltower/partials/_audit_diff.html",
        {"rows": rows, "created": event.before is None, "deleted": event.after is None},
    )


def _diffs_for(user: Any) -> Callable[[list[AuditEvent]], None]:
    def attach(events: list[AuditEvent]) -> None:
        diffs = {event.pk: audit_changes(event, user=user) for event in events}
        names = _related_names(events, diffs)
        for event in events:
            event.diff_html = _diff_html(event, diffs[event.pk], names)

    return attach


def _object_html(event: AuditEvent) -> str:
    slug = SECTION_OF_MODEL.get(event.object_type)
    url = ""
    if slug and event.after is not None:
        try:
            url = reverse("config:edit", args=[slug, event.object_id])
        except NoReverseMatch:
            url = ""
    history = "?" + urlencode({"object_type": event.object_type, "object_id": event.object_id})
    name = event.object_repr or f"{event.object_type} {event.object_id}"
    return format_html(
        '{}<div class="muted small">{} #{} · <a href="{}" title="Every change of this object">'
        "history</a></div>",
        format_html('<a href="{}">{}</a>', url, name) if url else name,
        event.object_type,
        event.object_id,
        history,
    )


COLUMNS = (
    Column("at", "When", lambda e: e.at, "at"),
    Column("user", "User", lambda e: e.actor_name or "system", "actor_name"),
    Column(
        "action",
        "Action",
        lambda e: e.action,
        "action",
        html=lambda e: format_html("<code>{}</code>", e.action),
    ),
    Column("object", "Object", lambda e: e.object_repr, "object_repr", html=_object_html),
    Column("reason", "Reason", lambda e: e.reason),
    Column("changes", "Changes", lambda e: "", html=lambda e: e.diff_html, csv=False),
)


def _suggestions() -> dict[str, list[str]]:
    """What the filter boxes suggest: every username, and the actions and object types of the
    newest entries (a scan of the whole append-only log on every page view would grow with it).
    """
    recent = AuditEvent.objects.order_by("-at", "-id").values_list("action", "object_type")[
        :SUGGESTION_SCAN
    ]
    actions, object_types = set(), set()
    for action, object_type in recent:
        actions.add(action)
        object_types.add(object_type)
    users = get_user_model().objects.order_by("username").values_list("username", flat=True)
    return {
        "users": [*users[:CHOICE_LIMIT], "system"],
        "actions": sorted(actions),
        "object_types": sorted(object_types),
    }


@login_required
@require_GET
def audit_list(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("controltower.view_auditevent"):
        raise PermissionDenied("Your role may not read the audit log.")
    filterset = AuditEventFilterSet(
        request.GET, queryset=AuditEvent.objects.select_related("actor")
    )
    form = page_filter_form(filterset, labels=LABELS)
    form.fields["user"].widget.attrs["list"] = "audit-users"
    form.fields["action"].widget.attrs["list"] = "audit-actions"
    form.fields["object_type"].widget.attrs["list"] = "audit-object-types"
    valid = filterset.is_valid()
    queryset = filterset.qs if valid else AuditEvent.objects.none()
    filtered = any(request.GET.get(name) for name in filterset.filters)
    table = listing(
        request,
        queryset=queryset,
        columns=COLUMNS,
        default_sort="-at",
        filtered=filtered,
        prepare=_diffs_for(request.user),
    )
    return render(
        request,
        "controltower/audit/list.html",
        {
            "table": table,
            "form": form,
            "valid": valid,
            "export_url": _export_url(request),
            **_suggestions(),
        },
    )


# The page's sort keys, as the API's ``ordering`` names them.
EXPORT_ORDERING = {"at": "at", "user": "actor_name", "action": "action"}


def _export_url(request: HttpRequest) -> str:
    """The CSV of the current filter and order: the API's export, on the page's own FilterSet."""
    params = request.GET.copy()
    for name in ("page", "per", "export", "sort"):
        params.pop(name, None)
    sort = request.GET.get("sort", "")
    ordering = EXPORT_ORDERING.get(sort.lstrip("-"))
    if ordering:
        params["ordering"] = f"-{ordering}" if sort.startswith("-") else ordering
    try:
        base = reverse("audit-event-export")
    except NoReverseMatch:
        return ""
    encoded = params.urlencode()
    return f"{base}?{encoded}" if encoded else base
