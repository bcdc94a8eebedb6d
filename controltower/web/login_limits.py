"""Sign-in attempts are limited (django-axes): after ``CT_LOGIN_FAILURE_LIMIT`` failures for
one user name, or from one address, sign-in is refused for ``CT_LOGIN_LOCKOUT_MINUTES`` with
a page that says so, until then or until an admin lifts the lockout (Django admin, "Sign-in
lockouts", audited). The sign-in page and the Django admin's both count."""

from __future__ import annotations

import math
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


class LoginAttemptsBackend(AxesStandaloneBackend):
    """Axes' check, for the sign-ins that come with a request (the pages' and the admin's).

    Code that checks a password without a request (the test client's ``login``, a
    management command) has no address to count and is left to the next backend.
    """

    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> None:
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """The page a locked-out sign-in gets: 429, with Retry-After."""
    cool_off = get_cool_off(request)
    seconds = math.ceil(cool_off.total_seconds()) if cool_off else None
    response = render(
        request,
        "registration/locked_out.html",
        {
            "username": get_client_username(request, credentials) or "",
            "failure_limit": get_failure_limit(request, credentials),
            "minutes": math.ceil(seconds / 60) if seconds else None,
        },
        status=429,
    )
    if seconds:
        response["Retry-After"] = str(seconds)
    return response
