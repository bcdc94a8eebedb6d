"""``Authorization: Token <key>``: the tower's API tokens, hashed at rest (django-rest-knox),
with a limit on wrong tokens per address."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication
from knox.settings import knox_settings
from rest_framework import exceptions
from rest_framework.authentication import get_authorization_header
from rest_framework.request import Request

from controltower.operations.services.tokens import api_token_used
from controltower.web.api.throttles import TokenFailureThrottle


class ApiTokenAuthentication(TokenAuthentication):
    """Knox's token authentication, with four differences: a revoked token is refused, an
    expired one is refused but kept (the token list says it expired, where knox would delete
    it), each use is recorded, at most once a minute, and an address that sent
    ``CT_API_TOKEN_FAILURE_RATE`` wrong tokens is answered 429 with ``Retry-After`` until the
    oldest of them is old enough, even with a right one."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = get_authorization_header(request).split()
        prefix = knox_settings.AUTH_HEADER_PREFIX.encode().lower()
        if not header or header[0].lower() != prefix:
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

    def _cleanup_token(self, auth_token: Any) -> bool:
        # True skips the token: knox then answers "Invalid token." as for an unknown key.
        return auth_token.revoked_at is not None or auth_token.expired

    def validate_user(self, auth_token: Any) -> tuple[Any, Any]:
        user, token = super().validate_user(auth_token)
        api_token_used(token=token)
        return user, token


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """How the published schema describes the token header."""

    target_class = ApiTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'An API token with the prefix "Token": `Authorization: Token <key>`.',
        }
