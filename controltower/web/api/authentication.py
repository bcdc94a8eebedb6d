"""``Authorization: Token <key>``: the tower's API tokens, hashed at rest (django-rest-knox)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication

from controltower.operations.services.tokens import api_token_used


class ApiTokenAuthentication(TokenAuthentication):
    """Knox's token authentication, with three differences: a revoked token is refused, an
    expired one is refused but kept (the token list says it expired, where knox would delete
    it), and each use is recorded, at most once a minute."""

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
