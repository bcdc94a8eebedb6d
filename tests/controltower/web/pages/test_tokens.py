"""The API tokens page: anyone signed in makes a token (the key on the answer only), sees
their tokens by their first characters with their last use, and revokes them."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from controltower.operations.models import ApiToken

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def status_with(key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/v1/transactions/").status_code


def test_a_viewer_makes_a_token_and_sees_its_key_once(user_with_role):
    client = signed_in(user_with_role("viewer", "vic"))
    page = client.get("/account/tokens/")
    assert page.status_code == 200 and "No API tokens yet" in page.text
    assert 'name="user"' not in page.text  # only an admin makes tokens for others

    answer = client.post("/account/tokens/", {"name": "reporting", "days": "30"})
    key = answer.context["new_key"]
    assert key in answer.text and answer["Cache-Control"] == "no-store"
    assert status_with(key) == 200

    again = client.get("/account/tokens/")
    assert key not in again.text
    assert f"{key[:15]}…" in again.text and "reporting" in again.text and "Active" in again.text


def test_a_token_revoked_on_the_page_stops_working(user_with_role):
    client = signed_in(user_with_role("operator", "olga"))
    key = client.post("/account/tokens/", {"name": "cli", "days": "30"}).context["new_key"]

    page = client.post(f"/account/tokens/{key[:15]}/revoke/", follow=True)
    assert "Revoked cli" in page.text and "Revoked" in page.text
    assert status_with(key) == 401


def test_an_admin_sees_everyones_tokens_and_makes_one_for_a_machine_account(user_with_role):
    user_with_role("viewer", "robot")
    admin = signed_in(user_with_role("admin", "ada"))

    answer = admin.post("/account/tokens/", {"name": "ERP export", "days": "365", "user": "robot"})
    assert answer.status_code == 200
    assert ApiToken.objects.get().user.username == "robot"
    assert "robot" in admin.get("/account/tokens/").text


def test_no_one_else_revokes_a_token(user_with_role):
    owner = signed_in(user_with_role("viewer", "vic"))
    key = owner.post("/account/tokens/", {"name": "cli", "days": "30"}).context["new_key"]

    other = signed_in(user_with_role("approver", "abe"))
    page = other.post(f"/account/tokens/{key[:15]}/revoke/", follow=True)
    assert "No token" in page.text
    assert status_with(key) == 200
