"""Reads behind the reconciliation report: runs, and the drift each found."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet

from canonical.models import (
    Invoice,
)
from controltower.operations.models import BusinessException
from controltower.operations.selectors.overview import money_by_currency
from integrations.choices import OPEN_STATUSES, ExceptionType, FlowKind
from integrations.models import Transaction

RECONCILIATION_DRIFT = ExceptionType.RECONCILIATION_DRIFT


def reconciliation_runs() -> QuerySet[Transaction]:
    """The reconciliation runs, newest first."""
    return Transaction.objects.filter(
        flow__kind=FlowKind.RECONCILIATION, event_type="reconciliation.run"
    ).select_related("flow")


def _drift_candidates(runs: list[Transaction]) -> QuerySet[BusinessException]:
    """Drift exceptions that may belong to ``runs``: raised before the last of them ended
    and not resolved before the first of them began."""
    first = min(run.received_at for run in runs)
    ends = [run.finished_at for run in runs]
    found = BusinessException.objects.filter(exception_type=RECONCILIATION_DRIFT).filter(
        Q(resolved_at__isnull=True) | Q(resolved_at__gte=first)
    )
    if all(ends):
        found = found.filter(created_at__lte=max(ends) + timedelta(seconds=5))
    return found


def _found_by(exc: BusinessException, run: Transaction) -> bool:
    """Whether ``run`` found the drift ``exc``: every run that finds it again is listed in
    its ``seen_by``; older drifts name only the run that raised them."""
    seen_by = (exc.details or {}).get("seen_by")
    if seen_by:
        return run.pk in seen_by
    if exc.business_key != run.business_key or exc.created_at < run.received_at:
        return False
    return run.finished_at is None or exc.created_at <= run.finished_at + timedelta(seconds=5)


def _run_drifts(run: Transaction) -> QuerySet[BusinessException]:
    """The drift exceptions ``run`` found, those raised before it and found again included."""
    ids = [exc.pk for exc in _drift_candidates([run]) if _found_by(exc, run)]
    return BusinessException.objects.filter(pk__in=ids)


def reconciliation_drift_totals(runs: list[Transaction]) -> None:
    """Sets ``drift_count`` and ``drift_amounts`` on each run of a page, in one query."""
    drifts = list(_drift_candidates(runs)) if runs else []
    for run in runs:
        amounts: dict[str, Decimal] = defaultdict(Decimal)
        count = 0
        for exc in drifts:
            if _found_by(exc, run):
                count += 1
                amounts[exc.currency] += exc.money_at_risk
        run.drift_count = count
        run.drift_amounts = money_by_currency(dict(amounts))


# Who may run a drift's action: those who work exceptions (operators and up).
DRIFT_ACTION_PERMISSION = "controltower.work_businessexception"


@dataclass(frozen=True)
class DriftAction:
    """The one-click fix of a drift: its code (what the service does) and its button."""

    REPUSH = "repush"
    RECREATE = "recreate"
    REBUILD = "rebuild"

    code: str
    label: str


def drift_list() -> QuerySet[BusinessException]:
    """Every reconciliation drift, open or closed."""
    return BusinessException.objects.filter(exception_type=RECONCILIATION_DRIFT)


def drift_action_of(exc: BusinessException) -> DriftAction | None:
    """The action that fixes an open drift, by its kind; None where only a person in the
    other system can (a duplicate, an invoice the tower never posted)."""
    if exc.exception_type != RECONCILIATION_DRIFT or exc.status not in OPEN_STATUSES:
        return None
    details = exc.details or {}
    kind, system = details.get("kind"), details.get("system", "")
    if kind == "missing_record":
        return DriftAction(DriftAction.RECREATE, f"Create the {details.get('missing')} again")
    if kind in ("erp_rates", "psa_project"):
        return DriftAction(DriftAction.REPUSH, f"Re-push {details.get('project')} to {system}")
    if kind == "unbilled_time":
        return DriftAction(DriftAction.REBUILD, "Build the missing invoice candidate")
    if kind == "invoice" and "erp_ids" not in details:
        return DriftAction(DriftAction.REPUSH, f"Re-push {details.get('invoice')} to {system}")
    return None


@dataclass
class DriftRow:
    """One drift of a run, in the report's words: what differs, the tower's and the ERP's figure."""

    exception: BusinessException
    project: str
    period: Any
    what: str
    tower: str
    erp: str
    priced: bool = False  # the figures are invoice amounts (pricing), not hours or counts


def _rates_text(rates: dict) -> str:
    return ", ".join(f"{role} {rate}" for role, rate in sorted(rates.items())) or "none"


def _dates_text(copy: dict) -> str:
    return f"{copy.get('status') or 'none'}, {copy.get('start_date') or '?'} to {copy.get('end_date') or 'open'}"


# What each record drift shows in the report: what differs, the tower's and the other system's figure.
_RECORD_KINDS = {
    "missing_record": lambda d: (f"No {d.get('missing')}", d.get("project", ""), "none"),
    "erp_rates": lambda d: (
        "ERP job rates",
        _rates_text(d.get("tower_rates") or {}),
        _rates_text(d.get("erp_rates") or {}),
    ),
    "psa_project": lambda d: (
        "PSA project status or dates",
        _dates_text(d.get("tower") or {}),
        _dates_text(d.get("psa") or {}),
    ),
    "unbilled_time": lambda d: ("Approved, not billed", f"{d.get('hours')} h", "no invoice"),
}


def reconciliation_drift_rows(run: Transaction) -> list[DriftRow]:
    """The drifts ``run`` found, by project and period, with the tower's and the ERP's figures."""
    drifts = list(
        _run_drifts(run).select_related("team", "assignee", "customer").order_by("-money_at_risk")
    )
    numbers = {(d.details or {}).get("invoice") for d in drifts} - {None}
    invoices = {
        i.number: i for i in Invoice.objects.filter(number__in=numbers).select_related("project")
    }
    rows = []
    for exc in drifts:
        details = exc.details or {}
        invoice = invoices.get(details.get("invoice"))
        priced = False
        kind = details.get("kind")
        if kind in _RECORD_KINDS:
            what, tower, erp = _RECORD_KINDS[kind](details)
            period = details.get("period_start")
            rows.append(
                DriftRow(
                    exception=exc,
                    project=details.get("project", ""),
                    period=date.fromisoformat(period) if period else None,
                    what=what,
                    tower=tower,
                    erp=erp,
                    priced=kind == "erp_rates",
                )
            )
            continue
        if details.get("missing") is True:
            what, tower, erp = "Missing in the ERP", details.get("tower", ""), "none"
            priced = True
        elif "tower_hours" in details and "tower" in details:
            what = "Invoice total and hours"
            tower = f"{details['tower']} · {details['tower_hours']} h"
            erp = f"{details['erp']} · {details['erp_hours']} h"
            priced = True
        elif "tower_hours" in details:
            what, tower, erp = "Hours", f"{details['tower_hours']} h", f"{details['erp_hours']} h"
        elif "tower" in details:
            what, tower, erp = "Invoice total", details["tower"], details["erp"]
            priced = True
        elif "erp_ids" in details:
            what = "Duplicate in the ERP"
            tower, erp = "1 invoice", f"{len(details['erp_ids'])} invoices"
        elif "erp_id" in details:
            what, tower, erp = "Not posted by the tower", "none", f"ERP invoice {details['erp_id']}"
        else:
            what, tower, erp = "Missing in the ERP", str(invoice.amount) if invoice else "", "none"
            priced = True
        rows.append(
            DriftRow(
                exception=exc,
                project=invoice.project.code if invoice else details.get("project", ""),
                period=invoice.period_start if invoice else None,
                what=what,
                tower=tower,
                erp=erp,
                priced=priced,
            )
        )
    rows.sort(key=lambda r: (r.project or "~", r.period or datetime.min.date()))
    return rows
