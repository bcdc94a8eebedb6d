"""The overview: how the flows are doing, what waits, what is at risk, and where to act.

The figures come from ``overview_figures`` (and ``throughput_by_day`` for the week);
this view only shapes them for the page: chart series, the range, the age buckets'
time bounds for the links. The figures live in one partial that the page fetches
again when the engine says something changed (see ``controltower.web.live``); an
unchanged partial is answered with 204 and the page keeps what it shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.views.decorators.http import require_GET

from canonical.classification import DataClass
from controltower.operations.selectors.data_access import value_mask
from controltower.operations.selectors.overview import (
    AGE_BUCKETS,
    overview_figures,
    throughput_by_day,
)
from controltower.web.live import live_settings, live_version
from controltower.web.pages.health import runtime_notices
from controltower.web.templatetags.tower import duration, money, percent, thousands
from integrations.choices import OPEN_STATUSES
from integrations.selectors.health import system_list

RANGES = {"24h": "Last 24 hours", "7d": "Last 7 days"}
FIGURES_TEMPLATE = "controltower/partials/_overview_figures.html"
FAILED_STATES = ["dead", "blocked"]


@dataclass(frozen=True)
class Tile:
    """One figure of the overview, and the list behind it (``url_name`` with ``params``).

    ``attention`` is a word shown beside a figure that wants a person, so that the
    tile's colour is never the only sign of it.
    """

    key: str
    label: str
    value: str
    note: str = ""
    url_name: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    attention: str = ""
    fallback: str = ""  # a page to open, unfiltered, while ``url_name`` does not exist


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    chosen = request.GET.get("range", "24h")
    chosen = chosen if chosen in RANGES else "24h"
    context = overview_context(chosen=chosen, user=request.user)
    html = render_to_string(FIGURES_TEMPLATE, context, request=request)
    live = {
        **live_settings(),
        "version": live_version(html),
        "url": f"{request.path}?range={chosen}",
    }
    if request.htmx:
        if request.GET.get("v") == live["version"]:
            response = HttpResponse(status=204)  # the page already shows these figures
        else:
            response = render(
                request,
                "controltower/partials/_overview_live.html",
                {"figures_html": html, "live": live},
            )
    else:
        response = render(
            request,
            "controltower/home.html",
            {"figures_html": html, "live": live, **context},
        )
    patch_vary_headers(response, ["HX-Request"])
    patch_cache_control(response, no_cache=True, private=True)
    return response


def overview_context(*, chosen: str, user: Any, now: datetime | None = None) -> dict[str, Any]:
    """The overview's figures in the shape its templates draw them, the invoice amounts
    masked for a reader whose role may not see pricing."""
    figures = overview_figures(now=now)
    now = figures["generated_at"]
    zone = timezone.get_current_timezone()
    names = {flow["kind"]: flow["name"] for flow in figures["flows"]}
    if chosen == "7d":
        week = throughput_by_day(now=now, tz=zone)
        labels = [day.strftime("%a %d %b") for day in week["days"]]
        labels[-1] += " (today)"
        series, counts, totals = week["series"], week["flows"], week["totals"]
        since = week["start"]
        unit = "day"
    else:
        hourly = figures["throughput"]["hourly"]
        labels = [timezone.localtime(b, zone).strftime("%H:%M") for b in hourly["buckets"]]
        labels[-1] += " (so far)"
        series = hourly["series"]
        counts = {flow["kind"]: flow["last_24h"] for flow in figures["flows"]}
        totals = figures["totals"]["last_24h"]
        since = hourly["buckets"][0]
        unit = "hour"
    flows = [{**flow, "counts": counts.get(flow["kind"]) or {}} for flow in figures["flows"]]
    queues = figures["queues"]
    exceptions = figures["exceptions"]
    empty = _is_empty(figures)
    open_statuses = [str(s) for s in OPEN_STATUSES]
    return {
        "figures": figures,
        "range": chosen,
        "range_label": RANGES[chosen],
        "ranges": RANGES,
        "unit": unit,
        "since": since.isoformat(),
        "flows": flows,
        "totals": totals,
        "queues": queues,
        "open_statuses": open_statuses,
        "failed_states": FAILED_STATES,
        "waiting_states": ["received", "processing"],
        "operations_tiles": _operations_tiles(
            figures, totals, since, open_statuses, RANGES[chosen].lower()
        ),
        "contract_to_cash_tiles": _contract_to_cash_tiles(figures, user=user),
        "throughput_chart": (chart := _throughput_chart(labels, series, names, unit)),
        "failures_chart": (failures := _failures_chart(labels, series, names, unit)),
        "failures_rows": [
            {"label": label, "values": [d["data"][i] for d in failures["datasets"]]}
            for i, label in enumerate(labels)
        ],
        "throughput_rows": [
            {"label": label, "values": [d["data"][i] for d in chart["datasets"]]}
            for i, label in enumerate(labels)
        ],
        "exceptions": exceptions,
        "by_type_chart": _bar_chart(
            [row["label"] for row in exceptions["by_type"]],
            [row["count"] for row in exceptions["by_type"]],
            "Open exceptions by type",
            horizontal=True,
        ),
        "by_age": _age_rows(exceptions["by_age"], now),
        "by_age_chart": _bar_chart(
            [row["label"] for row in exceptions["by_age"]],
            [row["count"] for row in exceptions["by_age"]],
            "Open exceptions by age",
        ),
        "empty": empty,
        "runtime_notices": runtime_notices(now=now),
        "systems": list(system_list().order_by("slug")) if empty else [],
        "breached_since": (now - timedelta(hours=24)).replace(second=0, microsecond=0).isoformat(),
    }


def _success_note(totals: dict[str, Any]) -> str:
    if not totals["finished"]:
        return "nothing finished yet"
    note = f"{thousands(totals['succeeded'])} of {thousands(totals['finished'])} finished"
    if recovered := totals["recovered"]:
        note += (
            f"; {thousands(recovered)} earlier stop{'' if recovered == 1 else 's'} "
            "re-ran and succeeded"
        )
    return note


def _operations_tiles(
    figures: dict[str, Any],
    totals: dict[str, Any],
    since: datetime,
    open_statuses: list[str],
    range_label: str,
) -> list[Tile]:
    queues, sla, exceptions = figures["queues"], figures["sla"], figures["exceptions"]
    waiting = queues["received"] + queues["processing"]
    # What still stands failed, not every stop in the window: most blocked work re-runs
    # by itself once its missing data arrives.
    failed_now = queues["dead"] + queues["blocked"]
    window = {"received_after": since.isoformat()}
    open_exceptions = {"status": open_statuses, "snoozed": ""}  # snoozed ones count too
    return [
        Tile(
            "success_rate",
            "Success rate",
            percent(totals["success_rate"]) or "—",
            _success_note(totals),
            "transactions:list",
            {"state": "succeeded", **window},
        ),
        Tile(
            "failed",
            "Failed",
            thousands(failed_now),
            f"dead letters and blocked, now; {thousands(totals['failed'])} "
            f"stop{'' if totals['failed'] == 1 else 's'} in the {range_label}, re-run ones included",
            "transactions:list",
            {"state": FAILED_STATES},
            "Needs a look" if failed_now else "",
        ),
        Tile(
            "retry_queue",
            "Retry queue",
            thousands(queues["retry_scheduled"]),
            f"{thousands(waiting)} new waiting to run" if waiting else "nothing new waiting to run",
            "transactions:list",
            {"state": "retry_scheduled"},
        ),
        Tile(
            "dead",
            "Dead letters",
            thousands(queues["dead"]),
            "out of retries: retry or replay",
            "transactions:list",
            {"state": "dead"},
            "Needs a person" if queues["dead"] else "",
        ),
        Tile(
            "sla_breached",
            "SLA breached",
            thousands(sla["breached"]),
            f"still open; {thousands(sla['breached_last_24h'])} breached in the last 24 h",
            "slas:history",
            {"state": "breached", "open": "true"},
            "Late" if sla["breached"] else "",
            "slas:index",
        ),
        Tile(
            "sla_at_risk",
            "SLA at risk",
            thousands(sla["at_risk"]),
            "due soon and not done",
            "slas:history",
            {"state": "at_risk", "open": "true"},
            "Due soon" if sla["at_risk"] else "",
            "slas:index",
        ),
        Tile(
            "open_exceptions",
            "Open exceptions",
            thousands(exceptions["open"]),
            "open or in progress, snoozed ones included",
            "exceptions:list",
            open_exceptions,
        ),
        Tile(
            "money_at_risk",
            "Money at risk",
            money(exceptions["money_at_risk"], "lines") or "Nothing",
            "on the open exceptions, largest first",
            "exceptions:list",
            {**open_exceptions, "sort": "-money"},
        ),
    ]


def _contract_to_cash_tiles(figures: dict[str, Any], *, user: Any) -> list[Tile]:
    c2p = figures["cycle_times"]["contract_to_project"]
    latency = figures["cycle_times"]["approved_time_to_invoice"]
    unbilled, awaiting = figures["unbilled"], figures["invoices_awaiting_approval"]
    return [
        Tile(
            "contract_to_project",
            "Contract to project",
            _business_hours(c2p["average_business_hours"]) or "—",
            f"signed to ready in the ERP and the PSA, on average over {thousands(c2p['count'])} "
            f"project{'' if c2p['count'] == 1 else 's'} in the last {c2p['window_days']} days"
            if c2p["count"]
            else f"no project set up in the last {c2p['window_days']} days",
            "measures:index",
            {"range": "7d"},
        ),
        Tile(
            "time_to_invoice",
            "Approved time to invoice",
            duration(latency["average_seconds"]) or "—",
            f"on average, {thousands(latency['count'])} time entries invoiced in the last "
            f"{latency['window_days']} days"
            if latency["count"]
            else f"no time invoiced in the last {latency['window_days']} days",
            "transactions:list",
            {"flow": "time_to_billing", "state": "succeeded"},
        ),
        Tile(
            "unbilled",
            "Unbilled approved time",
            f"{_hours(unbilled['hours'])} h",
            f"{_pricing(money(unbilled['value']), user)} in {thousands(unbilled['entries'])} "
            f"{'entry' if unbilled['entries'] == 1 else 'entries'} not yet invoiced"
            if unbilled["entries"]
            else "none waiting to be invoiced",
            "approvals:list",
        ),
        Tile(
            "invoices_awaiting",
            "Invoices awaiting approval",
            thousands(awaiting["count"]),
            _pricing(money(awaiting["amount"]), user) if awaiting["count"] else "none waiting",
            "approvals:list",
            attention="To approve" if awaiting["count"] else "",
        ),
    ]


def _business_hours(value: Decimal | None) -> str:
    """Business hours as the measures write them: "4.5 business h"."""
    return f"{_hours(value)} business h" if value is not None else ""


def _pricing(text: str, user: Any) -> str:
    """An amount of money billed (not money at risk, which support works by)."""
    return value_mask(text, data_class=DataClass.PRICING, user=user)


def _hours(value: Decimal) -> str:
    """Hours as people write them: "8", "18.5", "1,240.25"."""
    text = f"{value:,.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _throughput_chart(
    labels: list[str], series: dict[str, dict[str, list[int]]], names: dict[str, str], unit: str
) -> dict[str, Any]:
    """Transactions finished (succeeded, dead or blocked) per flow and bucket."""
    datasets = []
    for kind, name in names.items():
        counters = series.get(kind) or {}
        points = [
            s + d + b
            for s, d, b in zip(
                counters.get("succeeded", [0] * len(labels)),
                counters.get("dead", [0] * len(labels)),
                counters.get("blocked", [0] * len(labels)),
                strict=True,
            )
        ]
        datasets.append({"label": name, "kind": kind, "data": points, "total": sum(points)})
    busiest = max(datasets, key=lambda d: d["total"], default=None)
    total = sum(d["total"] for d in datasets)
    summary = (
        f"Transactions finished per {unit}, by flow: {total} in all"
        + (f", most in {busiest['label']} ({busiest['total']})" if busiest and total else "")
        + ". The table below the chart lists every value."
    )
    return {
        "type": "line",
        "labels": labels,
        "datasets": datasets,
        "y_title": f"Finished per {unit}",
        "summary": summary,
    }


def _failures_chart(
    labels: list[str], series: dict[str, dict[str, list[int]]], names: dict[str, str], unit: str
) -> dict[str, Any]:
    """Stops (dead letters and blocked) per flow and bucket: the failure trend, from the same
    roll-ups as the throughput, so it costs no query of its own."""
    datasets = []
    for kind, name in names.items():
        counters = series.get(kind) or {}
        points = [
            d + b
            for d, b in zip(
                counters.get("dead", [0] * len(labels)),
                counters.get("blocked", [0] * len(labels)),
                strict=True,
            )
        ]
        datasets.append({"label": name, "kind": kind, "data": points, "total": sum(points)})
    total = sum(d["total"] for d in datasets)
    busiest = max(datasets, key=lambda d: d["total"], default=None)
    summary = (
        f"Failures per {unit}, by flow: {total} in all"
        + (f", most in {busiest['label']} ({busiest['total']})" if busiest and total else "")
        + ". The table below the chart lists every value."
    )
    return {
        "type": "line",
        "labels": labels,
        "datasets": datasets,
        "total": total,
        "y_title": f"Failures per {unit}",
        "summary": summary,
    }


def _bar_chart(
    labels: list[str], values: list[int], title: str, *, horizontal: bool = False
) -> dict[str, Any]:
    parts = ", ".join(f"{label}: {value}" for label, value in zip(labels, values, strict=True))
    return {
        "type": "bar",
        "horizontal": horizontal,
        "labels": labels,
        "datasets": [{"label": title, "data": values}],
        "summary": f"{title}: {parts or 'none'}.",
        # A horizontal bar per row: the chart grows with the rows instead of squeezing them.
        "height": 48 + sum(30 if len(label) <= 26 else 44 for label in labels)
        if horizontal
        else 220,
    }


def _age_rows(rows: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Each age bucket with the creation-time bounds of its list (to the minute, so that the
    links, and with them the partial, stay the same between two refreshes)."""
    moment = now.replace(second=0, microsecond=0)
    shaped = []
    for i, (row, bucket) in enumerate(zip(rows, AGE_BUCKETS, strict=True)):
        older = AGE_BUCKETS[i + 1].older_than if i + 1 < len(AGE_BUCKETS) else None
        shaped.append(
            {
                **row,
                "created_before": (moment - bucket.older_than).isoformat()
                if bucket.older_than
                else None,
                "created_after": (moment - older).isoformat() if older else None,
            }
        )
    return shaped


def _is_empty(figures: dict[str, Any]) -> bool:
    """Nothing has happened yet: a fresh install, or one quiet for a week with nothing open."""
    return not (
        figures["totals"]["last_7d"]["received"]
        or figures["totals"]["last_7d"]["succeeded"]
        or any(figures["queues"].values())
        or figures["exceptions"]["open"]
        or figures["invoices_awaiting_approval"]["count"]
        or figures["unbilled"]["entries"]
        or figures["sla"]["at_risk"]
        or figures["sla"]["breached"]
    )
