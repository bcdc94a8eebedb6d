"""The credentials each simulated system demands (its ``auth`` knob), and access tokens.

``none`` (the default) lets every call in. ``oauth2`` (ERP) is OAuth 2.0's client
credentials grant, as NetSuite offers it for machine access: the client swaps its id
and secret for a token at ``POST /simulator/erp/services/rest/auth/oauth2/v1/token`` and
sends ``Authorization: Bearer <token>``. The CRM's Salesforce REST API demands the same
grant whatever its knob (Salesforce has no door without a session), its tokens issued at
``POST /simulator/crm/services/oauth2/token``. ``api_key`` (PSA, CRM, CLM) wants
``X-Api-Key: <key>``; ``basic`` (PSA, CRM, CLM) wants HTTP Basic with the client id and
secret; ``basic_key`` (HRIS, as BambooHR) HTTP Basic with the API key as the user name and
any password.

The expected values come from the environment, per system: ``CT_SIM_<SYSTEM>_CLIENT_ID``,
``CT_SIM_<SYSTEM>_CLIENT_SECRET``, ``CT_SIM_<SYSTEM>_API_KEY``. In demo mode a variable
left unset has a default (``demo-<system>-client``, ``demo-<system>-client-secret``,
``demo-<system>-api-key``); elsewhere it has none, and nothing is accepted in its place.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from simulator.choices import AuthMode
from simulator.errors import SimulatorError
from simulator.models import AccessToken, SimulatedSystem

# NetSuite's own words for any refused credentials, a missing or expired token included.
NETSUITE_INVALID_LOGIN = (
    "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI "
    "at Setup > Users/Roles > User Management > View Login Audit Trail."
)
API_KEY_HEADER = "X-Api-Key"
HARVEST_ACCOUNT_HEADER = "Harvest-Account-Id"


@dataclass(frozen=True)
class Expected:
    """The credentials a system accepts; None where it accepts none."""

    client_id: str | None
    client_secret: str | None
    api_key: str | None
    account_id: str | None


@dataclass(frozen=True)
class Presented:
    """The credentials a call carries, read from its headers."""

    bearer: str | None = None
    basic: tuple[str, str] | None = None
    api_key: str | None = None
    account_id: str | None = None


class TokenRefused(Exception):
    """A token request refused, as OAuth 2.0 (RFC 6749, section 5.2) words it."""

    def __init__(self, status: int, error: str, description: str, *, basic: bool = False):
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        # A client that authenticated with HTTP Basic is told the scheme it failed.
        self.basic = basic


def _setting(slug: str, name: str, demo_default: str) -> str | None:
    value = os.environ.get(f"CT_SIM_{slug.upper()}_{name}", "")
    if value:
        return value
    return demo_default if getattr(settings, "DEMO", False) else None


def credentials_expected(slug: str) -> Expected:
    """What the system accepts, read from the environment at each call."""
    return Expected(
        client_id=_setting(slug, "CLIENT_ID", f"demo-{slug}-client"),
        client_secret=_setting(slug, "CLIENT_SECRET", f"demo-{slug}-client-secret"),
        api_key=_setting(slug, "API_KEY", f"demo-{slug}-api-key"),
        account_id=_setting(slug, "ACCOUNT_ID", "100001"),
    )


def _same(presented: str | None, expected: str | None) -> bool:
    if presented is None or expected is None:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())


def basic_credentials(authorization: str) -> tuple[str, str] | None:
    """The user and password of an ``Authorization: Basic ...`` header, if it is one."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


def presented_from_headers(*, authorization: str, api_key: str, account_id: str = "") -> Presented:
    """The credentials in a call's ``Authorization``, ``X-Api-Key`` and (Harvest)
    ``Harvest-Account-Id`` headers."""
    scheme, _, value = authorization.partition(" ")
    return Presented(
        bearer=(value.strip() or None) if scheme.lower() == "bearer" else None,
        basic=basic_credentials(authorization),
        api_key=api_key or None,
        account_id=account_id or None,
    )


def _token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _invalid_login(challenge: str) -> SimulatorError:
    return SimulatorError(
        401,
        "INVALID_LOGIN",
        NETSUITE_INVALID_LOGIN,
        rest_code="unauthorized",
        headers={"WWW-Authenticate": challenge},
    )


def _unauthorized(message: str, challenge: str) -> SimulatorError:
    return SimulatorError(
        401,
        "UNAUTHORIZED",
        message,
        rest_code="unauthorized",
        headers={"WWW-Authenticate": challenge},
    )


def authenticate(
    *, system: SimulatedSystem, presented: Presented, demand: str | None = None
) -> None:
    """Lets the call in when it carries what ``system.auth`` demands (or ``demand``, a door
    whose vendor takes nothing else, whatever the knob); raises 401 otherwise."""
    realm = f'realm="simulated {system.slug}"'
    mode = demand or system.auth
    if mode == AuthMode.OAUTH2:
        if presented.bearer is None:
            raise _invalid_login(f"Bearer {realm}")
        valid = AccessToken.objects.filter(
            system=system,
            token_sha256=_token_sha256(presented.bearer),
            expires_at__gt=timezone.now(),
        ).exists()
        if not valid:
            raise _invalid_login(f'Bearer {realm}, error="invalid_token"')
        return
    expected = credentials_expected(system.slug)
    if mode == AuthMode.API_KEY and not _same(presented.api_key, expected.api_key):
        message = (
            f"A valid API key is required in the {API_KEY_HEADER} header."
            if presented.api_key is None
            else "The API key is not valid."
        )
        raise _unauthorized(message, f"ApiKey {realm}")
    if mode == AuthMode.BASIC:
        user, password = presented.basic or (None, None)
        if not (_same(user, expected.client_id) and _same(password, expected.client_secret)):
            raise _unauthorized("Valid HTTP Basic credentials are required.", f"Basic {realm}")
    if mode == AuthMode.HARVEST and not (
        _same(presented.bearer, expected.api_key)
        and _same(presented.account_id, expected.account_id)
    ):
        # Harvest answers a missing or wrong token, or a token of another account, alike.
        raise _unauthorized(
            "The access token provided is expired, revoked, malformed or invalid for other "
            f"reasons, or not valid for account {presented.account_id or '(none)'}.",
            f'Bearer {realm}, error="invalid_token"',
        )
    if mode == AuthMode.BASIC_KEY:
        user, _password = presented.basic or (None, None)
        if not _same(user, expected.api_key):
            raise _unauthorized(
                "HTTP Basic with a valid API key as the user name is required.", f"Basic {realm}"
            )


def token_issue(
    *,
    system: SimulatedSystem,
    grant_type: str | None,
    basic: tuple[str, str] | None,
    client_id: str | None,
    client_secret: str | None,
) -> tuple[str, int]:
    """An access token for a client credentials grant, and its lifetime in seconds.

    The client authenticates with HTTP Basic or with ``client_id``/``client_secret`` in
    the form, not both. Raises ``TokenRefused``.
    """
    if basic is not None and (client_id or client_secret):
        raise TokenRefused(
            400, "invalid_request", "Authenticate the client one way: HTTP Basic or the form."
        )
    if not grant_type:
        raise TokenRefused(400, "invalid_request", "grant_type is required.")
    if grant_type != "client_credentials":
        raise TokenRefused(
            400, "unsupported_grant_type", "Only grant_type=client_credentials is supported."
        )
    presented_id, presented_secret = basic or (client_id, client_secret)
    expected = credentials_expected(system.slug)
    if not (
        _same(presented_id, expected.client_id) and _same(presented_secret, expected.client_secret)
    ):
        raise TokenRefused(
            401, "invalid_client", "Client authentication failed.", basic=basic is not None
        )
    now = timezone.now()
    AccessToken.objects.filter(expires_at__lte=now).delete()
    token = secrets.token_urlsafe(32)
    ttl = system.token_ttl_seconds
    AccessToken.objects.create(
        system=system,
        token_sha256=_token_sha256(token),
        client_id=str(presented_id),
        issued_at=now,
        expires_at=now + timedelta(seconds=ttl),
    )
    return token, ttl
