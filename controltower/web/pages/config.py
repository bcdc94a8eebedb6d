"""Configuration pages: teams, ownership rules, calendars, SLA policies, windows, period closes.

Every section has the same four pages (list, new, edit, delete), declared once in
``SECTIONS``. They are an admin's: a section opens for a role that may change it
(admins), and anyone else gets 403, looking or posting; the add and delete buttons
show as the role's permissions allow.
Saving and deleting go through ``config_save`` / ``config_delete``, so the pages
validate and audit exactly as the API does.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_POST

from canonical.errors import ApplicationError
from controltower.operations import filtersets
from controltower.operations.models import (
    AuditEvent,
    BusinessCalendar,
    BusinessException,
    Holiday,
    MaintenanceWindow,
    OwnershipRule,
    PeriodClose,
    SlaPolicy,
    Team,
)
from controltower.operations.services.config import config_delete, config_save
from controltower.operations.services.routing import default_team, exceptions_reroute, rule_preview
from controltower.operations.services.sla import exceptions_sla_rejudge
from controltower.web.forms import config as forms
from controltower.web.pages.lists import (
    Column,
    csv_response,
    listing,
    listing_queryset,
    page_filter_form,
    wants_csv,
)
from integrations.choices import OPEN_STATUSES
from integrations.crypto import secret_url_mask

PREVIEW_ROWS = 50
PREVIEW_COUNT_LIMIT = 1000
HISTORY_ROWS = 10


@dataclass(frozen=True)
class Section:
    """One kind of configuration and everything its pages need to show and edit it."""

    slug: str
    model: type[models.Model]
    form_class: type[forms.ConfigForm]
    title: str
    noun: str
    intro: str
    empty: str
    columns: tuple[Column, ...]
    default_sort: str
    search_fields: tuple[str, ...] = ()
    queryset: Callable[[], QuerySet] | None = None
    filterset_class: type | None = None
    list_template: str = "controltower/config/list.html"
    form_template: str = "controltower/config/form.html"
    # What a section adds to the shared pages (its own panels), and where a new object lands.
    list_extras: Callable[[HttpRequest], dict[str, Any]] | None = None
    form_extras: (
        Callable[[HttpRequest, forms.ConfigForm, models.Model | None], dict[str, Any]] | None
    ) = None
    edit_after_create: bool = False

    def perm(self, verb: str) -> str:
        return f"{self.model._meta.app_label}.{verb}_{self.model._meta.model_name}"

    def objects(self) -> QuerySet:
        return self.queryset() if self.queryset else self.model._default_manager.all()

    @property
    def list_url(self) -> str:
        return reverse("config:list", args=[self.slug])

    @property
    def create_url(self) -> str:
        return reverse("config:create", args=[self.slug])

    def edit_url(self, obj: models.Model) -> str:
        return reverse("config:edit", args=[self.slug, obj.pk])

    def delete_url(self, obj: models.Model) -> str:
        return reverse("config:delete", args=[self.slug, obj.pk])


def _link(slug: str, text: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda obj: format_html(
        '<a href="{}">{}</a>', reverse("config:edit", args=[slug, obj.pk]), text(obj)
    )


def _badge(text: str, colour: str) -> str:
    return format_html('<span class="badge {}">{}</span>', colour, text)


def _any(value: Any) -> Any:
    return value or format_html('<span class="muted">{}</span>', "any")


def _minutes(value: int) -> str:
    hours, minutes = divmod(value, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h" if not minutes else f"{hours} h {minutes} min"


def _weekdays(days: list[int]) -> str:
    names = dict(forms.WEEKDAYS)
    return ", ".join(names[d][:3] for d in sorted(days) if d in names)


def _window_state(window: MaintenanceWindow) -> str:
    now = timezone.now()
    if window.ends_at <= now:
        return "Past"
    return "In progress" if window.starts_at <= now else "Upcoming"


WINDOW_BADGES = {"Past": "secondary", "In progress": "warning", "Upcoming": "info"}


# Page-specific parts of the shared pages: the rule preview and the calendar's holidays.


def _preview(form: forms.OwnershipRuleForm, obj: models.Model | None) -> dict[str, Any]:
    """Which open exceptions the rule in ``form`` would take, or why it cannot be weighed."""
    if form.is_bound:
        if not form.is_valid():
            return {"problems": _problems(form)}
        rule = form.instance
    elif obj is not None:
        rule = obj
    else:
        return {"waiting": True}
    taken = rule_preview(rule=rule, limit=PREVIEW_COUNT_LIMIT + 1)
    totals: dict[str, Decimal] = {}
    for exc in taken:
        totals[exc.currency] = totals.get(exc.currency, Decimal(0)) + exc.money_at_risk
    return {
        "rule": rule,
        "rows": taken[:PREVIEW_ROWS],
        "count": min(len(taken), PREVIEW_COUNT_LIMIT),
        "more_than_limit": len(taken) > PREVIEW_COUNT_LIMIT,
        "shown": min(len(taken), PREVIEW_ROWS),
        "totals": sorted(totals.items()),
        "open_total": BusinessException.objects.filter(status__in=OPEN_STATUSES).count(),
    }


def _problems(form: forms.ConfigForm) -> list[str]:
    problems = list(form.non_field_errors())
    for name, errors in form.errors.items():
        if name != "__all__":
            label = form.fields[name].label or name
            problems.extend(f"{label}: {message}" for message in errors)
    return problems


def _holidays_context(
    request: HttpRequest, calendar: BusinessCalendar, form: forms.HolidayForm | None = None
) -> dict[str, Any]:
    return {
        "calendar": calendar,
        "holidays": list(calendar.holidays.all()),
        "holiday_form": form or forms.HolidayForm(),
        "can_add_holiday": request.user.has_perm("controltower.add_holiday"),
        "can_delete_holiday": request.user.has_perm("controltower.delete_holiday"),
    }


def _rules_list_extras(request: HttpRequest) -> dict[str, Any]:
    return {"action": REROUTE, "action_form": forms.RerouteForm(), "default_team": default_team()}


def _rule_form_extras(
    request: HttpRequest, form: forms.ConfigForm, obj: models.Model | None
) -> dict[str, Any]:
    return {
        "preview": _preview(form, obj),
        "preview_url": reverse("config:rule-preview", args=[obj.pk])
        if obj is not None
        else reverse("config:rule-preview-new"),
    }


def _calendar_form_extras(
    request: HttpRequest, form: forms.ConfigForm, obj: models.Model | None
) -> dict[str, Any]:
    extras: dict[str, Any] = {"time_zones": sorted(zoneinfo.available_timezones())}
    if obj is not None:
        extras.update(_holidays_context(request, obj))
    return extras


SECTIONS: dict[str, Section] = {
    section.slug: section
    for section in [
        Section(
            slug="teams",
            model=Team,
            filterset_class=filtersets.TeamFilterSet,
            form_class=forms.TeamForm,
            title="Teams",
            noun="team",
            intro="Teams own queues of exceptions. The default team catches every exception "
            "no ownership rule routes elsewhere; breach notices go to the team's email and chat.",
            empty="No teams yet. Add a team and tick “Default team” on the one that catches "
            "every exception; then route types, flows or customers to other teams with "
            "ownership rules.",
            columns=(
                Column("name", "Name", lambda t: t.name, "name", html=_link("teams", str)),
                Column(
                    "default",
                    "Default",
                    lambda t: t.is_default,
                    "is_default",
                    html=lambda t: _badge("Default", "info") if t.is_default else "",
                ),
                Column(
                    "members", "Members", lambda t: t.member_count, "member_count", numeric=True
                ),
                Column("email", "Email", lambda t: t.email, "email"),
                Column(
                    "chat",
                    "Chat webhook",
                    lambda t: secret_url_mask(t.chat_webhook_url),
                    table=False,
                ),
                Column("escalation", "Escalation email", lambda t: t.escalation_email),
                Column(
                    "escalation_webhook",
                    "Escalation webhook",
                    lambda t: secret_url_mask(t.escalation_webhook_url),
                    table=False,
                ),
                Column(
                    "member_names",
                    "Member usernames",
                    lambda t: [u.username for u in t.members.all()],
                    table=False,
                ),
                Column("calendar", "Calendar", lambda t: t.calendar, "calendar__name"),
                Column("rules", "Rules", lambda t: t.rule_count, "rule_count", numeric=True),
                Column(
                    "open",
                    "Open exceptions",
                    lambda t: t.open_count,
                    "open_count",
                    numeric=True,
                ),
            ),
            default_sort="name",
            search_fields=("name", "email", "members__username"),
            queryset=lambda: Team.objects.select_related("calendar")
            .prefetch_related("members")
            .annotate(
                member_count=Count("members", distinct=True),
                rule_count=Count("rules", distinct=True),
                open_count=Count(
                    "exceptions",
                    filter=models.Q(exceptions__status__in=OPEN_STATUSES),
                    distinct=True,
                ),
            ),
        ),
        Section(
            slug="rules",
            model=OwnershipRule,
            filterset_class=filtersets.OwnershipRuleFilterSet,
            form_class=forms.OwnershipRuleForm,
            title="Ownership rules",
            noun="ownership rule",
            intro="A new exception goes to the team of the most specific active rule it "
            "matches: a customer or legal entity weighs more than a flow, a flow more than an "
            "exception type; priority breaks ties. Changing a rule routes new exceptions; "
            "re-route to move the open ones.",
            empty="No ownership rules yet: every exception goes to the default team. Add a "
            "rule to send an exception type, a flow, a legal entity or a customer to another team.",
            columns=(
                Column(
                    "rule",
                    "Rule",
                    lambda r: str(r),
                    "id",
                    html=_link("rules", lambda r: f"#{r.pk}"),
                ),
                Column("team", "Team", lambda r: r.team, "team__name"),
                Column(
                    "exception_type",
                    "Exception type",
                    lambda r: r.get_exception_type_display(),
                    "exception_type",
                    html=lambda r: _any(r.get_exception_type_display()),
                ),
                Column(
                    "flow",
                    "Flow",
                    lambda r: r.get_flow_display(),
                    "flow",
                    html=lambda r: _any(r.get_flow_display()),
                ),
                Column(
                    "legal_entity",
                    "Legal entity",
                    lambda r: r.legal_entity,
                    "legal_entity__code",
                    html=lambda r: _any(r.legal_entity),
                ),
                Column(
                    "customer",
                    "Customer",
                    lambda r: r.customer,
                    "customer__number",
                    html=lambda r: _any(r.customer),
                ),
                Column(
                    "specificity",
                    "Specificity",
                    lambda r: r.specificity,
                    numeric=True,
                ),
                Column("priority", "Priority", lambda r: r.priority, "priority", numeric=True),
                Column(
                    "active",
                    "Active",
                    lambda r: r.active,
                    "active",
                    html=lambda r: _badge("Active", "success")
                    if r.active
                    else _badge("Off", "secondary"),
                ),
            ),
            default_sort="team",
            search_fields=(
                "team__name",
                "exception_type",
                "flow",
                "legal_entity__code",
                "legal_entity__name",
                "customer__number",
                "customer__name",
            ),
            queryset=lambda: OwnershipRule.objects.select_related(
                "team", "legal_entity", "customer"
            ),
            list_template="controltower/config/rules_list.html",
            form_template="controltower/config/rule_form.html",
            list_extras=_rules_list_extras,
            form_extras=_rule_form_extras,
        ),
        Section(
            slug="calendars",
            model=BusinessCalendar,
            filterset_class=filtersets.BusinessCalendarFilterSet,
            form_class=forms.BusinessCalendarForm,
            title="Business calendars",
            noun="business calendar",
            intro="Working days and hours in one time zone, with holidays. A team on a calendar "
            "has its business-hours SLAs counted on it.",
            empty="No business calendars yet: every SLA runs around the clock. Add a calendar "
            "with working hours and holidays, then choose it on a team.",
            columns=(
                Column("name", "Name", lambda c: c.name, "name", html=_link("calendars", str)),
                Column("time_zone", "Time zone", lambda c: c.time_zone, "time_zone"),
                Column("days", "Working days", lambda c: _weekdays(c.working_days)),
                Column(
                    "hours",
                    "Hours",
                    lambda c: f"{c.day_start:%H:%M} to {c.day_end:%H:%M}",
                    "day_start",
                ),
                Column(
                    "holidays", "Holidays", lambda c: c.holiday_count, "holiday_count", numeric=True
                ),
                Column("teams", "Teams", lambda c: c.team_count, "team_count", numeric=True),
            ),
            default_sort="name",
            search_fields=("name", "time_zone"),
            queryset=lambda: BusinessCalendar.objects.annotate(
                holiday_count=Count("holidays", distinct=True),
                team_count=Count("teams", distinct=True),
            ),
            form_template="controltower/config/calendar_form.html",
            form_extras=_calendar_form_extras,
            edit_after_create=True,  # its holidays are added on its page
        ),
        Section(
            slug="sla-policies",
            model=SlaPolicy,
            filterset_class=filtersets.SlaPolicyFilterSet,
            form_class=forms.SlaPolicyForm,
            title="SLA policies",
            noun="SLA policy",
            intro="A flow SLA times a transaction from receipt to success; an exception SLA "
            "times an exception from creation to resolution. Items past the at-risk share are "
            "flagged; past the target they breach and the owning team is told.",
            empty="No SLA policies yet: nothing is timed, and no breach is ever raised. Add a "
            "policy for a flow (say contract to project within 4 hours) or for an exception "
            "type.",
            columns=(
                Column("name", "Name", lambda p: p.name, "name", html=_link("sla-policies", str)),
                Column("kind", "Kind", lambda p: p.get_kind_display(), "kind"),
                Column(
                    "applies_to",
                    "Applies to",
                    lambda p: " · ".join(
                        x
                        for x in (
                            p.get_flow_display(),
                            p.event_type,
                            p.get_exception_type_display(),
                            p.get_severity_display(),
                        )
                        if x
                    ),
                ),
                Column(
                    "target",
                    "Target",
                    lambda p: p.target_minutes,
                    "target_minutes",
                    html=lambda p: _minutes(p.target_minutes)
                    + (" (business hours)" if p.business_hours else ""),
                    numeric=True,
                ),
                Column("business_hours", "Business hours", lambda p: p.business_hours),
                Column(
                    "at_risk",
                    "At risk after",
                    lambda p: p.at_risk_share,
                    "at_risk_share",
                    html=lambda p: f"{p.at_risk_share * 100:.0f} %",
                    numeric=True,
                ),
                Column("team", "Team", lambda p: p.team, "team__name"),
                Column(
                    "active",
                    "Active",
                    lambda p: p.active,
                    "active",
                    html=lambda p: _badge("Active", "success")
                    if p.active
                    else _badge("Off", "secondary"),
                ),
            ),
            default_sort="name",
            search_fields=("name", "flow", "event_type", "exception_type"),
            queryset=lambda: SlaPolicy.objects.select_related("team"),
            list_template="controltower/config/sla_policies_list.html",
            list_extras=lambda request: {"action": REJUDGE, "action_form": forms.RejudgeForm()},
        ),
        Section(
            slug="maintenance-windows",
            model=MaintenanceWindow,
            filterset_class=filtersets.MaintenanceWindowFilterSet,
            form_class=forms.MaintenanceWindowForm,
            title="Maintenance windows",
            noun="maintenance window",
            intro="During a window, breach alerts are held (for one team, or everyone) and sent "
            "when it ends. Data keeps flowing; only the alerts wait.",
            empty="No maintenance windows. Add one before a planned ERP or CRM upgrade so its "
            "teams are not paged for what they already know.",
            columns=(
                Column(
                    "name", "Name", lambda w: w.name, "name", html=_link("maintenance-windows", str)
                ),
                Column(
                    "state",
                    "Status",
                    _window_state,
                    html=lambda w: _badge(_window_state(w), WINDOW_BADGES[_window_state(w)]),
                ),
                Column("starts_at", "Starts", lambda w: w.starts_at, "starts_at"),
                Column("ends_at", "Ends", lambda w: w.ends_at, "ends_at"),
                Column(
                    "team",
                    "Team",
                    lambda w: w.team,
                    "team__name",
                    html=lambda w: w.team
                    or format_html('<span class="muted">{}</span>', "everyone"),
                ),
                Column("reason", "Why", lambda w: w.reason),
            ),
            default_sort="-starts_at",
            search_fields=("name", "reason", "team__name"),
            queryset=lambda: MaintenanceWindow.objects.select_related("team"),
        ),
        Section(
            slug="period-closes",
            model=PeriodClose,
            filterset_class=filtersets.PeriodCloseFilterSet,
            form_class=forms.PeriodCloseForm,
            title="Period closes",
            noun="period close",
            intro="The ERP's period-close dates. In the lead days before a close, billing "
            "breaches escalate at once, so nothing billable misses the period.",
            empty="No period closes. Add the ERP's close dates so billing breaches escalate "
            "ahead of each cut-off.",
            columns=(
                Column(
                    "closes_on",
                    "Closes on",
                    lambda p: p.closes_on,
                    "closes_on",
                    html=_link("period-closes", lambda p: p.closes_on.isoformat()),
                ),
                Column("name", "Name", lambda p: p.name, "name"),
                Column("lead_days", "Lead days", lambda p: p.lead_days, "lead_days", numeric=True),
            ),
            default_sort="closes_on",
            search_fields=("name",),
        ),
    ]
}


def _section(slug: str) -> Section:
    try:
        return SECTIONS[slug]
    except KeyError:
        raise Http404(f"No configuration section {slug!r}.") from None


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied("The configuration is for admins; ask one to make this change.")


def _can(request: HttpRequest, section: Section) -> dict[str, bool]:
    return {
        "can_add": request.user.has_perm(section.perm("add")),
        "can_change": request.user.has_perm(section.perm("change")),
        "can_delete": request.user.has_perm(section.perm("delete")),
    }


@login_required
@require_GET
def config_index(request: HttpRequest) -> HttpResponse:
    cards = [
        {
            "section": section,
            "count": section.model._default_manager.count(),
            **_can(request, section),
        }
        for section in SECTIONS.values()
        if request.user.has_perm(section.perm("change"))
    ]
    if not cards:
        raise PermissionDenied("The configuration is for admins.")
    return render(
        request,
        "controltower/config/index.html",
        {"cards": cards, "default_team": default_team(), "sections": SECTIONS.values()},
    )


@login_required
@require_GET
def config_list(request: HttpRequest, section: str) -> HttpResponse:
    sec = _section(section)
    _require(request, sec.perm("change"))
    queryset, filter_form, filtered = _filtered(request, sec)
    if wants_csv(request):
        queryset, _, _ = listing_queryset(
            request,
            queryset=queryset,
            columns=sec.columns,
            default_sort=sec.default_sort,
            search_fields=sec.search_fields,
        )
        return csv_response(
            rows=queryset.iterator(chunk_size=500), columns=sec.columns, filename=f"{sec.slug}.csv"
        )
    table = listing(
        request,
        queryset=queryset,
        columns=sec.columns,
        default_sort=sec.default_sort,
        search_fields=sec.search_fields,
        filtered=filtered,
    )
    context = {
        "section": sec,
        "table": table,
        "filter_form": filter_form,
        "filters_active": filtered,
        "sections": SECTIONS.values(),
        **_can(request, sec),
    }
    if sec.list_extras is not None:
        context.update(sec.list_extras(request))
    return render(request, sec.list_template, context)


def _filtered(request: HttpRequest, sec: Section) -> tuple[QuerySet, Any, bool]:
    """The section's rows under the shared FilterSet's query-string filters (``?team=3``)."""
    if sec.filterset_class is None:
        return sec.objects(), None, False
    filterset = sec.filterset_class(request.GET, queryset=sec.objects(), request=request)
    # The name filter is what the search box does already.
    form = page_filter_form(filterset, exclude=("name",))
    queryset = filterset.qs if filterset.is_valid() else sec.objects().none()
    filtered = any(request.GET.get(name) not in (None, "", "unknown") for name in form.fields)
    return queryset, form, filtered


def _save(request: HttpRequest, form: forms.ConfigForm) -> models.Model | None:
    """Saves a valid form through the configuration service; a refusal lands on the form."""
    if not form.is_valid():
        return None
    try:
        return config_save(
            actor=request.user,
            instance=form.instance,
            m2m=form.many_to_many() or None,
            reason=form.cleaned_data.get("change_reason", ""),
        )
    except ApplicationError as error:
        form.add_application_error(error)
        return None


def _history(obj: models.Model) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(
        object_type=obj._meta.label_lower, object_id=str(obj.pk)
    ).order_by("-at", "-id")[:HISTORY_ROWS]


def _form_context(
    request: HttpRequest, sec: Section, form: forms.ConfigForm, obj: models.Model | None
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "section": sec,
        "form": form,
        "object": obj,
        "sections": SECTIONS.values(),
        "editable": request.user.has_perm(sec.perm("add" if obj is None else "change")),
        **_can(request, sec),
    }
    if obj is not None:
        context["history"] = _history(obj)
        context["history_query"] = urlencode(
            {"object_type": obj._meta.label_lower, "object_id": obj.pk}
        )
    if sec.form_extras is not None:
        context.update(sec.form_extras(request, form, obj))
    return context


@login_required
def config_create(request: HttpRequest, section: str) -> HttpResponse:
    sec = _section(section)
    _require(request, sec.perm("add"))
    if request.method == "POST":
        form = sec.form_class(request.POST)
        saved = _save(request, form)
        if saved is not None:
            messages.success(request, f"Added the {sec.noun} “{saved}”.")
            return redirect(sec.edit_url(saved) if sec.edit_after_create else sec.list_url)
    else:
        form = sec.form_class(initial=request.GET.dict())
    return render(request, sec.form_template, _form_context(request, sec, form, None))


@login_required
def config_edit(request: HttpRequest, section: str, pk: int) -> HttpResponse:
    sec = _section(section)
    _require(request, sec.perm("change"))
    obj = get_object_or_404(sec.objects(), pk=pk)
    if request.method == "POST":
        form = sec.form_class(request.POST, instance=obj)
        saved = _save(request, form)
        if saved is not None:
            messages.success(request, f"Saved the {sec.noun} “{saved}”.")
            return redirect(sec.list_url)
        # The instance took the rejected input; show the rest of the page as it is saved.
        obj = get_object_or_404(sec.objects(), pk=pk)
    else:
        form = sec.form_class(instance=obj)
    return render(request, sec.form_template, _form_context(request, sec, form, obj))


@login_required
def config_remove(request: HttpRequest, section: str, pk: int) -> HttpResponse:
    sec = _section(section)
    _require(request, sec.perm("delete"))
    obj = get_object_or_404(sec.objects(), pk=pk)
    error = None
    status = 200
    if request.method == "POST":
        label = str(obj)
        try:
            config_delete(
                actor=request.user, instance=obj, reason=request.POST.get("change_reason", "")
            )
        except ApplicationError as refusal:
            error, status = refusal, refusal.status_code
        else:
            messages.success(request, f"Deleted the {sec.noun} “{label}”.")
            return redirect(sec.list_url)
    return render(
        request,
        "controltower/config/confirm_delete.html",
        {
            "section": sec,
            "object": obj,
            "error": error,
            "consequences": _consequences(obj),
            "sections": SECTIONS.values(),
        },
        status=status,
    )


def _consequences(obj: models.Model) -> list[str]:
    """What else a delete touches, in words, so nobody is surprised."""
    if isinstance(obj, Team):
        out = []
        if obj.rules.exists():
            out.append(f"Its {obj.rules.count()} ownership rule(s) are deleted with it.")
        open_count = obj.exceptions.filter(status__in=OPEN_STATUSES).count()
        if open_count:
            out.append(
                f"Its {open_count} open exception(s) are left without a team until re-routed."
            )
        windows = obj.maintenance_windows.count()
        if windows:
            out.append(f"Its {windows} maintenance window(s) are deleted with it.")
        if obj.is_default:
            out.append("It is the default team: exceptions no rule routes will have no owner.")
        return out
    if isinstance(obj, BusinessCalendar):
        out = [f"Its {obj.holidays.count()} holiday(s) are deleted with it."]
        if obj.teams.exists():
            out.append(
                f"It is used by {obj.teams.count()} team(s); choose another calendar there first."
            )
        return out
    return []


# Ownership rules: the live preview and re-routing.


@login_required
@require_GET
def rule_preview_view(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """The preview panel of the rule form, redrawn as the admin edits (htmx GET of the fields)."""
    _require(request, "controltower.change_ownershiprule")
    obj = get_object_or_404(OwnershipRule, pk=pk) if pk is not None else None
    form = forms.OwnershipRuleForm(request.GET, instance=obj or OwnershipRule())
    return render(
        request, "controltower/partials/_rule_preview.html", {"preview": _preview(form, obj)}
    )


@dataclass(frozen=True)
class ReasonAction:
    """An admin's action on every open exception, asked for with a reason, in place (htmx)."""

    panel: str
    url_name: str
    button: str
    nothing: str  # the error summary when it did not run
    refused: str  # the message without htmx when it did not run


REROUTE = ReasonAction(
    "reroute-panel",
    "config:rules-reroute",
    "Re-route open exceptions now",
    "Nothing moved.",
    "Re-routing needs a reason; nothing moved.",
)
REJUDGE = ReasonAction(
    "rejudge-panel",
    "config:sla-rejudge",
    "Re-judge open exceptions now",
    "Nothing changed.",
    "Re-judging needs a reason; nothing changed.",
)
REASON_ACTION_TEMPLATE = "controltower/partials/_reason_action.html"


def _reason_action_run(
    request: HttpRequest,
    *,
    action: ReasonAction,
    form_class: type[forms.RerouteForm],
    run: Callable[..., int],
    message: Callable[[int], str],
    section: str,
) -> HttpResponse:
    form = form_class(request.POST)
    done = run(actor=request.user, reason=form.cleaned_data["reason"]) if form.is_valid() else None
    text = message(done) if done is not None else ""
    if request.htmx:
        return render(
            request,
            REASON_ACTION_TEMPLATE,
            {
                "action": action,
                "action_form": form_class() if done is not None else form,
                "done_message": text,
            },
        )
    if done is None:
        messages.error(request, action.refused)
    else:
        messages.success(request, text)
    return redirect("config:list", section)


@login_required
@require_POST
def rules_reroute(request: HttpRequest) -> HttpResponse:
    _require(request, "controltower.change_ownershiprule")
    return _reason_action_run(
        request,
        action=REROUTE,
        form_class=forms.RerouteForm,
        run=exceptions_reroute,
        message=_moved_message,
        section="rules",
    )


@login_required
@require_POST
def sla_rejudge(request: HttpRequest) -> HttpResponse:
    _require(request, "controltower.change_slapolicy")
    return _reason_action_run(
        request,
        action=REJUDGE,
        form_class=forms.RejudgeForm,
        run=exceptions_sla_rejudge,
        message=_rejudged_message,
        section="sla-policies",
    )


def _rejudged_message(changed: int) -> str:
    if changed == 0:
        return "Every open exception is already timed by the policy that fits it best."
    noun = "exception is" if changed == 1 else "exceptions are"
    return f"{changed} open {noun} now timed by the policy that fits best."


def _moved_message(moved: int) -> str:
    if moved == 0:
        return "Every open exception is already with the team the rules name; nothing moved."
    noun = "exception" if moved == 1 else "exceptions"
    return f"Moved {moved} open {noun} to the team the rules name."


# Holidays, added and removed in place on their calendar's page.


def _holidays_answer(
    request: HttpRequest, calendar: BusinessCalendar, form: forms.HolidayForm | None = None
) -> HttpResponse:
    if request.htmx:
        return render(
            request,
            "controltower/partials/_holidays.html",
            _holidays_context(request, calendar, form),
        )
    if form is not None and form.errors:
        for message in _problems(form):
            messages.error(request, message)
    return redirect("config:edit", "calendars", calendar.pk)


@login_required
@require_POST
def holiday_add(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "controltower.add_holiday")
    calendar = get_object_or_404(BusinessCalendar, pk=pk)
    form = forms.HolidayForm(request.POST, instance=Holiday(calendar=calendar))
    if form.is_valid():
        try:
            config_save(actor=request.user, instance=form.instance, reason=f"Holiday of {calendar}")
        except ApplicationError as error:
            for name, problems in error.errors.items():
                for problem in problems:
                    form.add_error(name if name in form.fields else None, problem)
        else:
            if not request.htmx:
                messages.success(request, f"Added the holiday {form.instance}.")
            return _holidays_answer(request, calendar)
    return _holidays_answer(request, calendar, form)


@login_required
@require_POST
def holiday_remove(request: HttpRequest, pk: int, holiday_pk: int) -> HttpResponse:
    _require(request, "controltower.delete_holiday")
    calendar = get_object_or_404(BusinessCalendar, pk=pk)
    holiday = get_object_or_404(calendar.holidays, pk=holiday_pk)
    label = str(holiday)
    config_delete(actor=request.user, instance=holiday, reason=f"Holiday of {calendar}")
    if not request.htmx:
        messages.success(request, f"Removed the holiday {label}.")
    return _holidays_answer(request, calendar)
