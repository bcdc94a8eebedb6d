"""Template helpers shared by every page: times, navigation, badges and form fields."""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal
from typing import Any

from django import template
from django.conf import settings
from django.http import QueryDict
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.timesince import timesince, timeuntil

from canonical.formats import money_text
from controltower.web.live import live_settings

register = template.Library()


def relative(value: dt.datetime, now: dt.datetime | None = None) -> str:
    """'3 hours ago' or 'in 2 days', to the largest unit only."""
    now = now or timezone.now()
    if abs((now - value).total_seconds()) < 60:
        return "just now"
    if value <= now:
        return f"{timesince(value, now, depth=1)} ago"
    return f"in {timeuntil(value, now, depth=1)}"


@register.simple_tag
def when(value: dt.datetime | None, *, short: bool = False) -> SafeString | str:
    """A time shown both ways: absolute in the reader's zone, and relative beside it.

    The ``datetime`` attribute carries the exact instant, from which the page's
    script keeps the relative part current while the page stays open.
    """
    if value is None:
        return ""
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    local = timezone.localtime(value)
    absolute = local.strftime("%d %b %Y %H:%M") if not short else local.strftime("%d %b %H:%M")
    return format_html(
        '<time datetime="{}" title="{}">{}</time> <span class="relative" data-relative="{}">{}</span>',
        value.isoformat(),
        local.strftime("%A %d %B %Y, %H:%M:%S %Z"),
        absolute,
        value.isoformat(),
        relative(value),
    )


@register.simple_tag(takes_context=True)
def nav_item(context: template.Context, label: str, url_name: str) -> SafeString | str:
    """One entry of the main navigation, marked as current when the page is under it."""
    try:
        url = reverse(url_name)
    except NoReverseMatch:
        return ""
    request = context.get("request")
    path = request.path if request is not None else ""
    current = path == url if url == "/" else path.startswith(url)
    return format_html(
        '<li><a href="{}"{}>{}</a></li>',
        url,
        SafeString(' aria-current="page"') if current else "",
        label,
    )


@register.simple_tag
def badge(text: Any, colour: str = "secondary") -> SafeString:
    return format_html('<span class="badge {}">{}</span>', colour, text)


@register.inclusion_tag("controltower/partials/_field.html")
def field(bound_field: Any, wide: bool = False) -> dict[str, Any]:
    """A labelled form field with its help text and its errors, tied together for screen readers."""
    wide = wide or bound_field.widget_type in ("textarea", "checkboxselectmultiple")
    return {"field": bound_field, "wide": wide}


# --- Overview: links that may not exist yet, numbers, money and durations --------------


@functools.lru_cache(maxsize=1024)
def _reversed(urlconf: str, prefix: str, url_name: str, args: tuple[Any, ...]) -> str:
    """``reverse`` remembered: the overview asks for the same few pages some eighty times a
    render. Keyed by the URLconf and script prefix in force, so a change of either (tests
    do this) is never answered from an old entry."""
    try:
        return reverse(url_name, args=args, urlconf=urlconf)
    except NoReverseMatch:
        return ""


@register.simple_tag
def url_or_empty(
    url_name: str, *args: Any, params: dict[str, Any] | None = None, **query: Any
) -> str:
    """The URL of ``url_name`` with ``params`` and ``query`` as its query string, or ""
    while no page has that name (a section still being built). A list value repeats its
    parameter (``status=["open", "in_progress"]``); ``None`` leaves a parameter out,
    while "" keeps it, empty (a list's "either", where leaving it out means its default).
    """
    url = _reversed(get_urlconf() or settings.ROOT_URLCONF, get_script_prefix(), url_name, args)
    if not url:
        return ""
    encoded = QueryDict(mutable=True)
    for name, value in {**(params or {}), **query}.items():
        values = value if isinstance(value, list | tuple) else [value]
        values = [str(v) for v in values if v is not None]
        if values:
            encoded.setlist(name, values)
    text = encoded.urlencode()
    return f"{url}?{text}" if text else url


@register.filter
def thousands(value: Any) -> str:
    """12345 → "12,345"; a Decimal keeps its places (18.50 → "18.50")."""
    if value is None or value == "":
        return ""
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,}" if isinstance(value, Decimal) else f"{float(value):,.2f}"


@register.filter
def money(amounts: Any, layout: str = "") -> str:
    """Amounts by currency, never added across currencies: "50.00 EUR · 1,100.00 USD";
    with ``"lines"``, one ``<span class="amount">`` per currency, for a column or a tile."""
    parts = [money_text(row["amount"], row["currency"]) for row in amounts or []]
    if layout == "lines":
        return format_html_join("", '<span class="amount">{}</span>', ((p,) for p in parts))
    return " · ".join(parts)


@register.filter
def percent(value: float | None) -> str:
    """A share as a percentage, with one decimal below 100 % ("97.3 %"); "" when unknown."""
    if value is None:
        return ""
    shown = value * 100
    if shown >= 100:
        return "100 %"
    return f"{min(shown, 99.9):.1f} %"


@register.filter
def duration(seconds: float | None) -> str:
    """Seconds in the two largest units: "2 d 4 h", "3 h 20 min", "45 s", "80 ms"; "" when
    unknown."""
    if seconds is None:
        return ""
    left = round(seconds)
    if seconds < 1:
        return f"{round(seconds * 1000)} ms"
    if left < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{left} s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        count, left = divmod(left, size)
        if count or parts:
            parts.append((count, unit))
        if len(parts) == 2:
            break
    return " ".join(f"{count} {unit}" for count, unit in parts if count)


@register.filter
def ms_duration(milliseconds: float | None) -> str:
    """Milliseconds shown as ``duration`` does: "400 ms", "3 min 5 s"."""
    return "" if milliseconds is None else duration(milliseconds / 1000)


@register.simple_tag(takes_context=True)
def live_list(context: template.Context, table: Any) -> SafeString:
    """The attributes that make a list's results live (``static/js/live.js``).

    The page fetches itself again when the engine reports work (or on a timer in the
    embedded mode), no more than once every ``CT_LIVE_LIST_SECONDS``, and swaps the
    element only when the rows' fingerprint changed and the reader holds nothing in it
    (a ticked row, a typed note); otherwise it says that the list changed.
    """

    request = context.get("request")
    live = live_settings()
    return format_html(
        ' id="list-live" data-live-page data-live-url="{}" data-live-version="{}"'
        ' data-live-mode="{}" data-live-poll="{}" data-live-socket="{}" data-live-min-gap="{}"',
        request.get_full_path() if request is not None else "",
        getattr(table, "version", ""),
        live["mode"],
        live["poll_seconds"],
        live["socket_path"],
        settings.CT_LIVE_LIST_SECONDS,
    )


@register.simple_tag
def live_list_status() -> SafeString:
    """Where a live list says how it keeps up (and that it changed, when it holds back)."""

    live = live_settings()
    text = (
        "Live: updates as events arrive"
        if live["mode"] == "socket"
        else f"Updates every {max(float(live['poll_seconds']), settings.CT_LIVE_LIST_SECONDS):g} s"
    )
    return format_html(
        '<p class="live-status" data-live-status="list-live" aria-live="polite">{}</p>', text
    )
