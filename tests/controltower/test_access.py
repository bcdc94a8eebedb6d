"""Who may do what: roles, tokens, the login page, and every API route walked by role."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def api_routes() -> list[tuple[str, str]]:
    """(name, pattern) of every named route under /api/v1/, from the URL configuration."""
    found: list[tuple[str, str]] = []

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern) and entry.name:
                found.append((entry.name, prefix + str(entry.pattern)))

    walk(get_resolver().url_patterns, "")
    return [
        (name, path)
        for name, path in found
        if path.startswith("api/v1/") and "<drf_format_suffix" not in path and "format" not in path
    ]


def concrete(route: str) -> str:
    """A URL for a route pattern, with 1 for every parameter."""
    url = re.sub(r"\(\?P<\w+>[^)]*\)", "1", route)
    url = re.sub(r"<(\w+:)?\w+>", "1", url)
    return "/" + url.replace("^", "").replace("$", "")


LIST_ROUTES = sorted({path for name, path in api_routes() if name.endswith("-list")})
ACTION_ROUTES = sorted(
    {
        path
        for name, path in api_routes()
        if not name.endswith(("-list", "-detail")) and name not in ("api-root", "inbound")
    }
)


def test_the_walk_finds_the_routes():
    assert "/api/v1/transactions/" in {concrete(p) for p in LIST_ROUTES}
    assert len(ACTION_ROUTES) >= 5


@pytest.mark.parametrize("route", LIST_ROUTES)
@pytest.mark.parametrize("role", ["viewer", "operator", "approver", "admin"])
def test_every_role_reads_every_list(route, role, user_with_role, api_client_for):
    url = concrete(route)
    assert api_client_for(user_with_role(role)).get(url).status_code == 200


@pytest.mark.parametrize("route", LIST_ROUTES)
def test_no_list_is_open_to_anonymous_callers_or_users_without_a_role(
    route, user_with_role, api_client_for
):
    url = concrete(route)
    assert api_client_for().get(url).status_code == 401
    assert api_client_for(user_with_role(None)).get(url).status_code == 403


@pytest.mark.parametrize("route", ACTION_ROUTES)
def test_a_viewer_may_call_no_action(route, user_with_role, api_client_for):
    assert api_client_for(user_with_role("viewer")).post(concrete(route), {}).status_code == 403


def test_createtoken_prints_a_token_that_authenticates(user_with_role, capsys):
    user = user_with_role("viewer", "robot")
    call_command("createtoken", "robot")
    key = capsys.readouterr().out.strip()
    assert Token.objects.get(user=user).key == key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/transactions/").status_code == 200


def test_createtoken_names_an_unknown_user(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="nobody"):
        call_command("createtoken", "nobody")


def test_the_login_page_signs_a_user_in_and_shows_the_home_page(client, user_with_role, demo):
    user_with_role("operator", "opal")
    assert client.get("/").status_code == 302
    page = client.get("/login/")
    assert b"Sign in" in page.content
    response = client.post(
        "/login/", {"username": "opal", "password": "pw-for-tests-9"}, follow=True
    )
    assert response.status_code == 200
    assert b"Transactions by state" in response.content
    assert b"/api/v1/inbound/crm/" in response.content


def test_a_wrong_password_is_refused_with_a_message(client, user_with_role):
    user_with_role("viewer", "vera")
    response = client.post("/login/", {"username": "vera", "password": "wrong"})
    assert response.status_code == 200
    assert b"didn&#x27;t match" in response.content or b"didn't match" in response.content


def test_the_roles_hold_exactly_their_permissions(db):
    from django.contrib.auth.models import Group

    perms = {
        g.name: {f"{p.content_type.app_label}.{p.codename}" for p in g.permissions.all()}
        for g in Group.objects.all()
    }
    assert "integrations.view_transaction" in perms["viewer"]
    assert "integrations.retry_transaction" not in perms["viewer"]
    assert "integrations.retry_transaction" in perms["operator"]
    assert "integrations.pause_flow" not in perms["approver"]
    assert "integrations.pause_flow" in perms["admin"]
    assert perms["viewer"] < perms["operator"] <= perms["approver"] < perms["admin"]
