"""What the engine's pages share: permission checks, links that may not exist yet, JSON."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from integrations.selectors.health import share_text

JSON_SHOWN_LIMIT = 200_000  # characters of a payload drawn on a page; the API has the rest


def require(request: HttpRequest, permission: str, message: str = "") -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied(message or "Your role may look at this page but not do this.")


def url_or_blank(name: str, *args: Any) -> str:
    """The URL of a page another part of the tower may not have yet, or ""."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def json_text(value: Any) -> str:
    """A JSON value pretty-printed for a <pre>, cut at a size a page can draw."""
    if value is None:
        return ""
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    if len(text) > JSON_SHOWN_LIMIT:
        return text[:JSON_SHOWN_LIMIT] + "\n… (cut here; the API returns all of it)"
    return text


def badge(text: Any, colour: str) -> str:
    return format_html('<span class="badge {}">{}</span>', colour, text)


def percent(share: float | None) -> str:
    return share_text(share)
