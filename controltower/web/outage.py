"""The tower's own database outage, answered plainly instead of as an HTML 500.

When the database cannot be reached (connection refused, the server gone mid-request, a
SQLite file that cannot be opened) every API call answers 503 JSON in the API's error shape
and every page a small self-contained "the tower is unavailable" page, both with
``Retry-After``. The inbound endpoint is an API call like the others: its 503 tells the
sender to send again, so no event is lost.

A request that lost a deadlock to another over the same rows (rare: the services lock rows
in one order) answers 409 the same way: nothing of it was kept, and sending it again is safe.

Two doors lead here: the middleware's ``process_exception`` for errors raised by a view
(DRF re-raises what its handler does not answer), and ``server_error``, the ``handler500``,
for errors raised by a middleware (the session read, the user look-up). Nothing here
touches the database: the page is rendered without a request, so no context processor,
session or user look-up runs.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.utils.cache import add_never_cache_headers
from django.views import defaults

from integrations.services.locks import lost_to_concurrent_work

logger = logging.getLogger(__name__)

UNAVAILABLE = "The tower's database is not answering; nothing was changed. Try again shortly."
CONCURRENT_CHANGE = (
    "Another request changed the same records at the same moment; nothing was changed. Try again."
)
# Paths whose callers read JSON: the API (the inbound endpoint included) and the probes.
JSON_PREFIXES = ("/api/", "/healthz", "/readyz")


def database_unavailable(exc: BaseException | None) -> bool:
    """Whether ``exc`` says the database cannot serve the request now."""
    return isinstance(exc, OperationalError | InterfaceError) and not lost_to_concurrent_work(exc)


def interrupted_response(request: HttpRequest, exc: BaseException | None) -> HttpResponse | None:
    """503 when the database cannot be reached, 409 when the request lost a deadlock (or a
    serialization conflict) to another over the same rows; None for any other error."""
    if exc is None:
        return None
    if database_unavailable(exc):
        logger.warning("Database unavailable for %s %s: %s", request.method, request.path, exc)
        retry_after = settings.CT_UNAVAILABLE_RETRY_AFTER_SECONDS
        response = _answer(
            request, status=503, message=UNAVAILABLE, error="unavailable", retry_after=retry_after
        )
        response["Retry-After"] = str(retry_after)
        return response
    if isinstance(exc, DatabaseError) and lost_to_concurrent_work(exc):
        logger.warning("Concurrent change for %s %s: %s", request.method, request.path, exc)
        return _answer(request, status=409, message=CONCURRENT_CHANGE, error="concurrent change")
    return None


def _answer(
    request: HttpRequest, *, status: int, message: str, error: str, retry_after: int = 0
) -> HttpResponse:
    if request.path.startswith(JSON_PREFIXES):
        response: HttpResponse = JsonResponse(
            {"message": message, "errors": {"(database)": [error]}}, status=status
        )
    else:
        # Rendered without the request: no context processor, session or user look-up.
        html = loader.render_to_string(
            "unavailable.html", {"conflict": status == 409, "retry_after": retry_after}
        )
        response = HttpResponse(html, status=status)
    add_never_cache_headers(response)
    return response


class DatabaseOutageMiddleware:
    """Answers a view that lost the database (503) or lost a deadlock (409)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return interrupted_response(request, exception)


SERVER_ERROR = "The tower could not answer this request; the error is in its log."


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: the answers above when a middleware lost the database; else the
    API's error shape under the API, and the tower's 500 page (``500.html``) for a person."""
    answered = interrupted_response(request, sys.exc_info()[1])
    if answered is not None:
        return answered
    if request.path.startswith(JSON_PREFIXES):
        return JsonResponse({"message": SERVER_ERROR, "errors": {}}, status=500)
    return defaults.server_error(request)
