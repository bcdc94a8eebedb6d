"""Pages show times in the reader's own time zone.

The browser knows its zone; ``static/js/tower.js`` stores it in the ``tz`` cookie
and this middleware activates it, so the server renders every time, form default
and query-string date in that zone. Without the cookie (the very first page, or a
script-less client) times are in ``settings.TIME_ZONE``, and the page says which
zone it uses.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import lru_cache
from urllib.parse import unquote

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

COOKIE = "tz"


@lru_cache(maxsize=64)
def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    if not name or name not in zoneinfo.available_timezones():
        return None
    return zoneinfo.ZoneInfo(name)


class UserTimeZoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # The browser writes the cookie with encodeURIComponent: "Europe%2FParis".
        zone = _zone(unquote(request.COOKIES.get(COOKIE, "")[:96]))
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
