"""The measures people manage by: each with its definition in one line, its value over the
chosen range (24 h, 7 d or 30 d) and a CSV export of what it was computed from.

The figures come from ``controltower.operations.selectors.measures``; this view only
shapes them for the page and the exports. Anyone whose role may read transactions may
read the measures; people's names and billed amounts are masked as everywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from canonical.classification import DataClass
from controltower.operations.selectors.data_access import value_mask
from controltower.operations.selectors.measures import (
    RANGES,
    Window,
    failure_recovery,
    failures_per_flow,
    invoice_cycle,
    measure_calendar,
    measure_window,
    measures_figures,
    project_setup_cycle,
    staffing_fulfilment,
    time_to_billing,
    unbilled_by_age,
    utilization,
)
from controltower.web.pages.common import require
from controltower.web.pages.lists import Column, csv_response
from controltower.web.templatetags.tower import percent, thousands
from integrations.choices import ExceptionType

VIEW = "integrations.view_transaction"
TOP_PEOPLE = 15


@dataclass(frozen=True)
class Measure:
    """One measure as the page shows it: what it is, its value and a line about the value."""

    key: str
    label: str
    definition: str
    value: str
    note: str


def _col(key: str, label: str, data_class: DataClass | None = None) -> Column:
    return Column(key, label, lambda row, key=key: row[key], data_class=data_class)


# The columns of each measure's CSV export.
EXPORTS: dict[str, list[Column]] = {
    "project_setup": [
        _col("project", "Project"),
        _col("contract", "Contract"),
        _col("signed_at", "Contract signed"),
        _col("ready_at", "Ready in ERP and PSA"),
        _col("business_hours", "Business hours"),
    ],
    "staffing": [
        _col("project", "Project"),
        _col("created_at", "Project created"),
        _col("first_staffed_at", "First consultant staffed"),
        _col("business_hours", "Business hours"),
    ],
    "time_to_billing": [
        _col("invoice", "Invoice"),
        _col("posted_at", "Posted"),
        _col("entries", "Time entries"),
        _col("hours_worked", "Hours worked"),
        _col("average_wait_hours", "Average hours from approval to posting"),
    ],
    "invoice_cycle": [
        _col("invoice", "Invoice"),
        _col("customer", "Customer no."),
        _col("currency", "Currency"),
        _col("amount", "Amount", DataClass.PRICING),
        _col("prepared_at", "Prepared"),
        _col("posted_at", "Posted"),
        _col("hours", "Hours"),
    ],
    "unbilled": [
        _col("label", "Approved"),
        _col("entries", "Time entries"),
        _col("hours", "Hours"),
    ],
    "recovery": [
        _col("flow", "Flow"),
        _col("exception_type", "Exception type"),
        _col("resolved", "Resolved"),
        _col("average_hours", "Average hours to resolve"),
    ],
    "failures": [_col("bucket", "Period"), _col("flow", "Flow"), _col("failures", "Failures")],
    "utilization": [
        _col("employee_number", "Employee no."),
        _col("name", "Name", DataClass.PERSONAL),
        _col("team", "Team (role)"),
        _col("billable_hours", "Billable hours"),
        _col("capacity_hours", "Capacity hours"),
        _col("utilization", "Utilization"),
    ],
}


def _export_rows(key: str, window: Window) -> list[dict[str, Any]]:
    if key in ("project_setup", "staffing", "utilization"):
        hours, _ = measure_calendar()
        selector = {
            "project_setup": project_setup_cycle,
            "staffing": staffing_fulfilment,
            "utilization": utilization,
        }[key]
        return selector(window=window, hours=hours)["rows"]
    if key == "unbilled":
        return unbilled_by_age(now=window.until)["rows"]
    selector = {
        "time_to_billing": time_to_billing,
        "invoice_cycle": invoice_cycle,
        "recovery": failure_recovery,
        "failures": failures_per_flow,
    }[key]
    rows = selector(window=window)["rows"]
    return _labelled(rows) if key == "recovery" else rows


@login_required
@require_GET
def measures_page(request: HttpRequest) -> HttpResponse:
    require(request, VIEW, "Your role may not read the transactions these measures come from.")
    window = measure_window(key=request.GET.get("range", "7d"))
    export = request.GET.get("export")
    if export:
        if export not in EXPORTS:
            raise Http404("No such measure.")
        columns = EXPORTS[export]
        return csv_response(
            rows=_export_rows(export, window),
            columns=columns,
            filename=f"measure-{export.replace('_', '-')}-{window.key}.csv",
            user=request.user,
        )
    figures = measures_figures(window=window)
    return render(
        request,
        "controltower/measures/index.html",
        {
            "window": window,
            "range": window.key,
            "ranges": {key: label for key, (label, _, _) in RANGES.items()},
            "calendar": figures["calendar"],
            "measures": _measures(figures, window),
            "unbilled": figures["unbilled"],
            "recovery": figures["recovery"],
            "utilization": figures["utilization"],
            "failures": figures["failures"],
            "failures_chart": _failures_chart(figures["failures"]),
            "failure_rows": [
                {"label": label, "values": [d["data"][i] for d in figures["failures"]["datasets"]]}
                for i, label in enumerate(figures["failures"]["labels"])
            ],
            "recovery_rows": _labelled(figures["recovery"]["rows"]),
            "top_people": _top_people(figures["utilization"]["rows"], request.user),
        },
    )


def _labelled(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    labels = dict(ExceptionType.choices)
    return [{**row, "exception_type": labels.get(row["exception_type"], "")} for row in rows]


def _top_people(rows: list[dict[str, Any]], user: Any) -> list[dict[str, Any]]:
    """The consultants with the most billable hours, their names masked for a role that may
    not see personal data."""
    top = sorted(rows, key=lambda row: (-row["billable_hours"], row["employee_number"]))
    return [
        {**row, "name": value_mask(row["name"], data_class=DataClass.PERSONAL, user=user)}
        for row in top[:TOP_PEOPLE]
        if row["billable_hours"]
    ]


def _business_hours(value: Decimal | None) -> str:
    return f"{_plain(value)} business h" if value is not None else ""


def _elapsed(value: Decimal | None) -> str:
    """Elapsed hours, in days past two days: "5.5 h", "3.2 d"."""
    if value is None:
        return ""
    if value >= 48:
        return f"{_plain((value / 24).quantize(Decimal('0.1')))} d"
    return f"{_plain(value)} h"


def _plain(value: Decimal) -> str:
    text = f"{value:,.2f}"
    return text.rstrip("0").rstrip(".")


def _over(count: int, one: str, many: str, window: Window) -> str:
    return f"over {thousands(count)} {one if count == 1 else many}, {window.label.lower()}"


def _measures(figures: dict[str, Any], window: Window) -> list[Measure]:
    setup, staffing = figures["project_setup"], figures["staffing"]
    billing, invoices = figures["time_to_billing"], figures["invoice_cycle"]
    unbilled, recovery = figures["unbilled"], figures["recovery"]
    failures, use = figures["failures"], figures["utilization"]
    none = "No data yet"

    def median_note(summary: dict[str, Any], one: str, many: str, unit) -> str:
        return (
            f"average; median {unit(summary['median_hours'])}, "
            + _over(summary["count"], one, many, window)
            if summary["count"]
            else f"no {many} in the {window.label.lower()}"
        )

    return [
        Measure(
            "project_setup",
            "Project setup cycle time",
            "From the contract signed to its project ready in both the ERP and the PSA, in "
            "business hours.",
            _business_hours(setup["average_hours"]) or none,
            median_note(setup, "project", "projects set up", _business_hours),
        ),
        Measure(
            "staffing",
            "Staffing fulfilment time",
            "From a project created in the tower to its first consultant staffed, in business "
            "hours.",
            _business_hours(staffing["average_hours"]) or none,
            median_note(staffing, "project", "projects staffed", _business_hours),
        ),
        Measure(
            "time_to_billing",
            "Approved time to billing",
            "From a time entry approved to its invoice posted in the ERP, elapsed time.",
            _elapsed(billing["average_hours"]) or none,
            f"average, {_over(billing['count'], 'time entry', 'time entries', window)} on "
            f"{thousands(billing['invoices'])} posted invoice{'' if billing['invoices'] == 1 else 's'}"
            if billing["count"]
            else f"no time invoiced in the {window.label.lower()}",
        ),
        Measure(
            "invoice_cycle",
            "Invoice cycle time",
            "From an invoice candidate prepared in the tower to the invoice posted in the ERP, "
            "elapsed time.",
            _elapsed(invoices["average_hours"]) or none,
            median_note(invoices, "invoice", "invoices posted", _elapsed),
        ),
        Measure(
            "unbilled",
            "Unbilled approved time",
            "Approved billable hours not yet invoiced, by how long ago they were approved; as "
            "they stand now, whatever the range.",
            f"{_plain(unbilled['hours'])} h" if unbilled["entries"] else none,
            f"in {thousands(unbilled['entries'])} time entr"
            f"{'y' if unbilled['entries'] == 1 else 'ies'}; the ages are below"
            if unbilled["entries"]
            else "no approved time waits to be invoiced",
        ),
        Measure(
            "recovery",
            "Integration failure recovery time",
            "From a business exception raised to it resolved (dismissed ones left out), "
            "elapsed time.",
            _elapsed(recovery["average_hours"]) or none,
            f"average, {_over(recovery['count'], 'exception', 'exceptions resolved', window)}"
            if recovery["count"]
            else f"no exception resolved in the {window.label.lower()}",
        ),
        Measure(
            "failures",
            "Failures per flow",
            "Transactions stopped (dead letters and blocked by a rule), per flow and "
            f"{failures['unit']}; the chart is below.",
            thousands(failures["total"]),
            f"stops in the {window.label.lower()}" if failures["total"] else "no stop recorded",
        ),
        Measure(
            "utilization",
            "Utilization",
            "Billable hours worked over capacity (the calendar's working hours on the range's "
            "days), per consultant and per team.",
            (percent(use["utilization"]) or none) if use["rows"] else none,
            f"{_plain(use['billable_hours'])} of {_plain(use['capacity_hours'])} h over "
            f"{thousands(len(use['rows']))} consultant{'' if len(use['rows']) == 1 else 's'}, "
            f"{len(window.days)} day{'' if len(window.days) == 1 else 's'}"
            if use["rows"]
            else "no active consultant",
        ),
    ]


def _failures_chart(failures: dict[str, Any]) -> dict[str, Any]:
    datasets = failures["datasets"]
    busiest = max(datasets, key=lambda d: d["total"], default=None)
    summary = (
        f"Failures per {failures['unit']}, by flow: {failures['total']} in all"
        + (
            f", most in {busiest['label']} ({busiest['total']})"
            if busiest and failures["total"]
            else ""
        )
        + ". The table below the chart lists every value."
    )
    return {
        "type": "line",
        "labels": failures["labels"],
        "datasets": datasets,
        "total": failures["total"],
        "y_title": f"Failures per {failures['unit']}",
        "summary": summary,
    }
