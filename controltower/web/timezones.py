"""Pages show times in the reader's own time zone.

A person may choose their zone (account, "Time zone"); without a choice, the browser
knows its zone: ``static/js/tower.js`` stores it in the ``tz`` cookie. This middleware
activates the one that applies, so the server renders every time, form default
and query-string date in that zone. Without the cookie (the very first page, or a
script-less client) times are in ``settings.TIME_ZONE``, and the page says which
zone it uses.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from controltower.operations.selectors.preferences import user_time_zone

COOKIE = "tz"


@lru_cache(maxsize=64)
def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    if not name or name not in zoneinfo.available_timezones():
        return None
    return zoneinfo.ZoneInfo(name)


# The person's chosen zone, read once per session (the page that changes it writes it here).
SESSION_KEY = "ct_time_zone"


def chosen_time_zone(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not hasattr(request, "session"):
        return ""
    if SESSION_KEY not in request.session:
        request.session[SESSION_KEY] = user_time_zone(user=user)
    return request.session[SESSION_KEY]


def time_zone_remember(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """On sign-in, the person's chosen zone goes into the new session: no query per page."""
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_KEY] = user_time_zone(user=user)


class UserTimeZoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # A zone the person chose in the tower wins; else the browser's, which it writes
        # in the cookie with encodeURIComponent: "Europe%2FParis".
        chosen = _zone(chosen_time_zone(request))
        request.time_zone_chosen = chosen is not None
        zone = chosen or _zone(unquote(request.COOKIES.get(COOKIE, "")[:96]))
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
