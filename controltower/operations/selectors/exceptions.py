"""Reads behind the exception queues: each person's queue and its counts, an exception's
SLA, and where to fix what an exception waits on. Each is bounded by one page of rows
or by open work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count, F, Q, QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from canonical.choices import ProjectStatus
from canonical.models import (
    Contract,
    Customer,
    Invoice,
    LegalEntity,
    Project,
    RateCard,
    Resource,
)
from canonical.services.terms import INVOICE_TERMS_WAIT
from controltower.operations.choices import SlaState
from controltower.operations.models import BusinessException, SlaBreach
from controltower.operations.selectors.fixes import billing_code_fix_of, rate_fix_of
from integrations.choices import OPEN_STATUSES, ExceptionType
from integrations.models import ConnectedSystem
from integrations.services.sync import LINKABLE, link_pick_of


@dataclass(frozen=True)
class FixLink:
    """Where the cause of an exception is fixed, in words, with the page that fixes it.

    ``url`` is empty when the fix happens in another system (a contract is signed in the
    CLM); ``hint`` then says where.
    """

    label: str
    url: str = ""
    hint: str = ""
    # The permission the fix itself needs when the page is open to more roles than may
    # change it (a system's mapping: everyone reads it, admins publish it).
    needs: str = ""


def reverse_or_empty(name: str, *args: Any, query: dict[str, Any] | None = None) -> str:
    """The URL of ``name``, or "" while that page does not exist (another section's page)."""

    try:
        url = reverse(name, args=args)
    except NoReverseMatch:
        return ""
    return f"{url}?{urlencode(query)}" if query else url


# Canonical models with a record page (their sync state in every system), by its URL slug.
RECORD_PAGE_KINDS = {
    "canonical.contract": "contract",
    "canonical.project": "project",
    "canonical.resource": "resource",
    "canonical.timeentry": "time-entry",
    "canonical.invoice": "invoice",
}


def record_url(obj: Any) -> str:
    """The record page of a canonical record; for a record without one, its admin page."""
    if obj is None:
        return ""
    meta = obj._meta
    kind = RECORD_PAGE_KINDS.get(meta.label_lower)
    url = reverse_or_empty("records:detail", kind, obj.pk) if kind else ""
    return url or reverse_or_empty(f"admin:{meta.app_label}_{meta.model_name}_change", obj.pk)


def transaction_url(transaction_id: int | None) -> str:
    return reverse_or_empty("transactions:detail", transaction_id) if transaction_id else ""


def _admin_add(model_name: str, **initial: Any) -> str:
    return reverse_or_empty(f"admin:canonical_{model_name}_add", query=initial or None)


CONFIGURE_SYSTEMS = "integrations.change_connectedsystem"

# The fix made on the exception's own page (its "Fix it here" section).
FIX_ANCHOR = "#fix"

PROJECT_FIXES = {
    "project": "Open {key}",
    "erp_project": "Re-push project {key} to the ERP",
    "project_active": "Open {key} (not active on the day worked)",
    "project_hold": "Lift the billing hold on {key}",
    "project_rates": "Open {key} (no rate for the role)",
    "project_dates": "Open {key} (its dates and its contract's end)",
}


def exception_fix_link(exc: BusinessException) -> FixLink | None:
    """Where to fix what ``exc`` waits on, derived from ``waiting_on`` (``kind:key[:more]``).

    Missing master data opens the page that adds it, prefilled with its key; a record
    that exists but is wrong (an inactive entity, a rate card without the role) opens
    that record. Fixing it there resolves the exception and re-runs its work by itself.
    """
    kind, _, rest = (exc.waiting_on or "").partition(":")
    parts = [p for p in rest.split(":") if p] if rest else []
    key = parts[0] if parts else ""
    if pick := link_pick_of(exc):  # another system's id nobody linked: picked on this page
        named = f"{pick.system_name} {pick.what} {pick.external_id}"
        return FixLink(
            f"Link {named} to a {pick.kind}",
            reverse_or_empty("records:lookup"),
            f"Pick the {pick.kind} below by its {pick.key_label}, or link {named} on the "
            f"{pick.kind}'s page.",
        )
    if kind == "mapping" and len(parts) == 2:
        system = ConnectedSystem.objects.filter(slug__iexact=key).first()
        record_type = parts[1].lower()
        if system is not None:
            return FixLink(
                f"Edit {system.name}'s {record_type.replace('_', ' ')} mapping",
                reverse_or_empty("systems:mapping", system.slug, record_type),
                "Map the values it names, try the mapping on this payload, and publish it.",
                needs=CONFIGURE_SYSTEMS,
            )
    if kind == "system_auth" and key:
        system = ConnectedSystem.objects.filter(slug__iexact=key).first()
        if system is not None:
            return FixLink(
                f"Fix {system.name}'s credentials",
                reverse_or_empty("systems:connection", system.slug),
                "Then test the connection.",
                needs=CONFIGURE_SYSTEMS,
            )
    if kind == "rate_card" and key:
        card = RateCard.objects.filter(code=key).first()
        if card is None:
            return FixLink(f"Add rate card {key}", _admin_add("ratecard", code=key))
        if fix := rate_fix_of(exc):  # made on the exception's own page, by finance
            return FixLink(fix.title, FIX_ANCHOR, f"Made on this page, below, by {fix.who}.")
        return FixLink(
            f"Open rate card {key}", reverse_or_empty("admin:canonical_ratecard_change", card.pk)
        )
    if kind == "legal_entity" and key:
        entity = LegalEntity.objects.filter(code=key).first()
        if entity is None:
            return FixLink(f"Add legal entity {key}", _admin_add("legalentity", code=key))
        return FixLink(f"Activate legal entity {key}", record_url(entity))
    if kind == "customer" and key:
        customer = Customer.objects.filter(number=key).first()
        if customer is None:
            return FixLink(f"Add customer {key}", _admin_add("customer", number=key))
        return FixLink(f"Open customer {key} (billing hold, active)", record_url(customer))
    if kind == "resource" and key:
        resource = Resource.objects.filter(employee_number=key).first()
        if resource is None:
            return FixLink(
                f"Add resource {key}",
                _admin_add("resource", employee_number=key),
                "Resources normally arrive from the HRIS; add one by hand only if it is late.",
            )
        if exc.exception_type == ExceptionType.RESOURCE_UNAVAILABLE:
            return FixLink(
                f"Open resource {key} (inactive in the HRIS)",
                record_url(resource),
                "Re-staff the work in the PSA and dismiss this; if the person is still with "
                "the firm, reactivate them in the HRIS and the assignment runs by itself.",
            )
        return FixLink(f"Activate resource {key}", record_url(resource))
    if kind == "customer_hold" and key:
        customer = Customer.objects.filter(number=key).first()
        if customer is not None:
            return FixLink(f"Lift the billing hold on customer {key}", record_url(customer))
    if kind in PROJECT_FIXES and key:
        project = Project.objects.filter(code=key).first()
        if project is None:
            return FixLink(f"Add project {key}", _admin_add("project", code=key))
        hint = (
            "Reopen it, or move its end date past the time, in the PSA; the held time then "
            "runs by itself."
            if kind == "project_active"
            else "Correct the assignment's dates in the PSA, or the project's there (the "
            "contract's end by an amendment); the assignment then runs by itself."
            if kind == "project_dates"
            else ""
        )
        return FixLink(PROJECT_FIXES[kind].format(key=key), record_url(project), hint)
    if kind == "contract_project" and key:
        contract = Contract.objects.filter(number=key).first()
        if contract is not None:
            return FixLink(
                f"Open contract {key}",
                record_url(contract),
                "Its project is created by contract-to-project; check that flow's queue.",
            )
    if kind == "contract_billing_terms" and key:
        return FixLink(
            f"Complete the billing terms of contract {key} in the CLM",
            "",
            "A retainer needs its monthly fee and included hours, managed services a monthly "
            "fee. The CLM sends the contract again with them (or replay this transaction with "
            "them added), and it runs by itself.",
        )
    if kind.startswith("contract_") and key:
        contract = Contract.objects.filter(number=key).first()
        if contract is None:
            return FixLink(
                f"Wait for contract {key}",
                "",
                "The contract arrives when it is signed in the CLM; nothing to fix here.",
            )
        what = {
            "contract_cap": "its cap",
            "contract_terms": "its milestones",
            "contract_rates": "its rates",
        }.get(kind, "it")
        return FixLink(
            f"Open contract {key} to check {what}",
            record_url(contract),
            "Terms change with an amendment from the CLM.",
        )
    if kind == "assignment" and len(parts) >= 2:
        project = Project.objects.filter(code=parts[0]).first()
        resource = Resource.objects.filter(employee_number=parts[1]).first()
        initial = {k: v.pk for k, v in (("project", project), ("resource", resource)) if v}
        return FixLink(
            f"Add the assignment of {parts[1]} to {parts[0]}",
            _admin_add("assignment", **initial),
            "Assignments normally arrive from the PSA.",
        )
    if kind == "system" and key:
        return FixLink(
            f"Check the {key} connection", reverse_or_empty("systems:list"), "Its fault state."
        )
    if kind == INVOICE_TERMS_WAIT and (fix := billing_code_fix_of(exc)):
        return FixLink(
            fix.title,
            FIX_ANCHOR,
            f"Made on this page, below, by {fix.who}, from the codes "
            f"{fix.facts['invoice'].legal_entity.code}'s ERP accepts.",
        )
    invoice_number = (exc.details or {}).get("invoice")
    if invoice_number:
        invoice = Invoice.objects.filter(number=invoice_number).first()
        if invoice is not None:
            return FixLink(f"Open invoice {invoice_number}", record_url(invoice))
    if exc.record_id and exc.record is not None:
        return FixLink(f"Open {exc.record}", record_url(exc.record))
    return None


def admin_url(url: str) -> bool:
    """Whether ``url`` is a page of the Django admin (which only admins may open)."""
    prefix = reverse_or_empty("admin:index")
    return bool(prefix and url.startswith(prefix))


def may_open(url: str, user: Any) -> bool:
    """Whether ``user`` may open ``url``: an admin page is for admins (staff) only."""
    return not admin_url(url) or bool(getattr(user, "is_staff", False))


def fix_link_for(exc: BusinessException, user: Any) -> FixLink | None:
    """The fix link as ``user`` may follow it: a fix on an admin page says "admins only"
    and links nowhere for anyone else, so nobody meets a page that refuses them."""
    fix = exception_fix_link(exc)
    if fix is None:
        return None
    if fix.needs and not user.has_perm(fix.needs):
        return FixLink(
            f"{fix.label} (admins only)", fix.url, f"An admin makes the change. {fix.hint}"
        )
    if may_open(fix.url, user):
        return fix
    hint = "An admin fixes it in the admin; ask one, or assign this to them."
    return FixLink(f"{fix.label} (admins only)", "", f"{hint} {fix.hint}".strip())


QUEUE_TABS = {"mine": "My queue", "team": "My team's", "all": "All"}


def exception_queue(*, user: Any, tab: str) -> QuerySet[BusinessException]:
    """The exceptions of one queue tab, with what each row shows, in one query per page."""
    queryset = BusinessException.objects.select_related(
        "team", "assignee", "customer", "legal_entity"
    )
    if tab == "mine":
        return queryset.filter(assignee=user)
    if tab == "team":
        return queryset.filter(team__in=user.teams.all())
    return queryset


def exception_queue_counts(*, user: Any) -> dict[str, int]:
    """Open, awake exceptions per queue tab: what each tab has waiting."""
    now = timezone.now()
    awake = BusinessException.objects.filter(status__in=OPEN_STATUSES).exclude(
        snoozed_until__gt=now
    )
    # One pass over the open rows for all three tabs.
    return awake.aggregate(
        mine=Count("pk", filter=Q(assignee=user)),
        team=Count("pk", filter=Q(team__in=user.teams.all())),
        all=Count("pk"),
    )


def exception_sla_states(
    exceptions: list[BusinessException], *, now: datetime | None = None
) -> dict[int, str]:
    """Per exception: ``breached`` or ``at_risk`` as the SLA sweep recorded it, or past due."""
    now = now or timezone.now()
    open_ids = [e.pk for e in exceptions if e.status in OPEN_STATUSES]
    states: dict[int, str] = {}
    # The verdict of the one policy that judges each exception, not of any other.
    rows = SlaBreach.objects.filter(
        exception_id__in=open_ids,
        met_at__isnull=True,
        policy_id=F("exception__sla_policy_id"),
    ).values_list("exception_id", "state")
    for exception_id, state in rows:
        if states.get(exception_id) != SlaState.BREACHED:
            states[exception_id] = state
    for exc in exceptions:
        if exc.pk in open_ids and exc.sla_due_at and exc.sla_due_at <= now:
            states[exc.pk] = SlaState.BREACHED
    return states


LINK_CANDIDATES = 500


def link_candidates(exc: Any) -> list[tuple[str, str]]:
    """The records a person may pick for an exception that waits for another system's id to
    be linked (active resources and customers, or projects not closed), as (business key,
    name)."""
    pick = link_pick_of(exc)
    if pick is None:
        return []
    linkable = LINKABLE[pick.kind]
    records = linkable.model.objects.all()
    if pick.kind == "project":
        records = records.exclude(status=ProjectStatus.CLOSED)
    else:
        records = records.filter(active=True)
    return list(
        records.order_by(linkable.key_field).values_list(linkable.key_field, "name")[
            :LINK_CANDIDATES
        ]
    )
