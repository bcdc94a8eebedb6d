"""The tower's own database outage, answered plainly instead of as an HTML 500.

When the database cannot be reached (connection refused, the server gone mid-request, a
SQLite file that cannot be opened) every API call answers 503 JSON in the API's error shape
and every page a small self-contained "the tower is unavailable" page, both with
``Retry-After``. The inbound endpoint is an API call like the others: its 503 tells the
sender to send again, so no event is lost.

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
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.utils.cache import add_never_cache_headers
from django.views import defaults

from integrations.services.locks import lost_to_concurrent_work

logger = logging.getLogger(__name__)

MESSAGE = "The tower's database is not answering; nothing was changed. Try again shortly."
# Paths whose callers read JSON: the API (the inbound endpoint included) and the probes.
JSON_PREFIXES = ("/api/", "/healthz", "/readyz")


def database_unavailable(exc: BaseException | None) -> bool:
    """Whether ``exc`` says the database cannot serve the request: not a request that lost
    to another over the same rows (the API answers that 409, ``api_exception_handler``)."""
    return isinstance(exc, OperationalError | InterfaceError) and not lost_to_concurrent_work(exc)


def unavailable_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    retry_after = settings.CT_UNAVAILABLE_RETRY_AFTER_SECONDS
    logger.warning("Database unavailable for %s %s: %s", request.method, request.path, exc)
    if request.path.startswith(JSON_PREFIXES):
        response: HttpResponse = JsonResponse(
            {"message": MESSAGE, "errors": {"(database)": ["unavailable"]}}, status=503
        )
    else:
        html = loader.render_to_string("unavailable.html", {"retry_after": retry_after})
        response = HttpResponse(html, status=503)
    response["Retry-After"] = str(retry_after)
    add_never_cache_headers(response)
    return response


class DatabaseOutageMiddleware:
    """Answers 503 for a view that could not reach the database."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if database_unavailable(exception):
            return unavailable_response(request, exception)
        return None


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: the 503 above when a middleware lost the database, Django's 500 otherwise."""
    exc = sys.exc_info()[1]
    if database_unavailable(exc):
        return unavailable_response(request, exc)
    return defaults.server_error(request)
