from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from integrations.correlation import correlation_id_var, new_correlation_id

HEADER = "X-Correlation-ID"
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class CorrelationIdMiddleware:
    """Takes the caller's correlation id (or makes one) for logs and the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(HEADER, "")
        correlation_id = incoming if _VALID.match(incoming) else new_correlation_id()
        request.correlation_id = correlation_id
        token = correlation_id_var.set(correlation_id)
        try:
            response = self.get_response(request)
        finally:
            correlation_id_var.reset(token)
        response[HEADER] = correlation_id
        return response
