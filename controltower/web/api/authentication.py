"""Token authentication with a limit on wrong tokens per address."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.request import Request

from controltower.web.api.throttles import TokenFailureThrottle


class ThrottledTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>``; an address that sent ``CT_API_TOKEN_FAILURE_RATE`` wrong
    tokens is answered 429 with ``Retry-After`` until the oldest of them is old enough, even
    with a right one."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        throttle = TokenFailureThrottle()
        wait = throttle.wait_before_next_try(request)
        if wait is not None:
            raise exceptions.Throttled(
                wait=wait, detail="Too many wrong tokens from this address; try again later."
            )
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            throttle.failure_record(request)
            raise
