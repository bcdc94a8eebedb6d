"""The API's rate limits: per user (token or session), per anonymous address, and wrong tokens
per address; 429 with Retry-After in the API's one error shape."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from django.test import Client

from controltower.operations.services.tokens import api_token_create
from tests.support.inbound import customer_event, signed_post

pytestmark = pytest.mark.django_db


def fresh_address() -> str:
    """An address no earlier test used: the counts live in the cache, not the database."""
    return "10." + ".".join(str(byte) for byte in uuid.uuid4().bytes[:3])


@pytest.fixture
def viewer(user_with_role):
    user = user_with_role("viewer")
    cache.delete(f"throttle_user_{user.pk}")  # a user id an earlier test had may come back
    return user


_keys: dict[int, str] = {}


@pytest.fixture(autouse=True)
def _fresh_keys():
    _keys.clear()


def token_client(user, address: str) -> Client:
    key = _keys.get(user.pk) or _keys.setdefault(
        user.pk, api_token_create(actor=user, name="throttling")[1]
    )
    return Client(HTTP_AUTHORIZATION=f"Token {key}", REMOTE_ADDR=address)


def test_a_token_over_the_user_rate_is_answered_429_with_retry_after_in_the_error_shape(
    viewer, settings
):
    settings.CT_API_USER_RATE = "3/min"
    client = token_client(viewer, fresh_address())
    for _ in range(3):
        assert client.get("/api/v1/systems/").status_code == 200
    response = client.get("/api/v1/systems/")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response.json() == {"message": response.json()["message"], "errors": {}}
    assert "throttled" in response.json()["message"]


def test_another_user_keeps_their_own_allowance(viewer, user_with_role, settings):
    settings.CT_API_USER_RATE = "2/min"
    address = fresh_address()
    first = token_client(viewer, address)
    for _ in range(2):
        first.get("/api/v1/systems/")
    assert first.get("/api/v1/systems/").status_code == 429
    other = user_with_role("viewer")
    cache.delete(f"throttle_user_{other.pk}")
    assert token_client(other, address).get("/api/v1/systems/").status_code == 200


def test_wrong_tokens_from_one_address_lock_it_out_even_for_a_right_token(viewer, settings):
    settings.CT_API_TOKEN_FAILURE_RATE = "3/min"
    address = fresh_address()
    for attempt in range(3):
        guess = Client(HTTP_AUTHORIZATION=f"Token wrong-{attempt}", REMOTE_ADDR=address)
        assert guess.get("/api/v1/systems/").status_code == 401
    response = token_client(viewer, address).get("/api/v1/systems/")
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert "wrong tokens" in response.json()["message"]
    assert token_client(viewer, fresh_address()).get("/api/v1/systems/").status_code == 200


def test_a_forwarded_for_header_does_not_give_a_guesser_a_new_address(settings):
    settings.CT_API_TOKEN_FAILURE_RATE = "2/min"
    address = fresh_address()
    codes = [
        Client(
            HTTP_AUTHORIZATION="Token wrong",
            REMOTE_ADDR=address,
            HTTP_X_FORWARDED_FOR=fresh_address(),
        )
        .get("/api/v1/systems/")
        .status_code
        for _ in range(3)
    ]
    assert codes == [401, 401, 429]


def test_right_tokens_never_count_against_their_address(viewer, settings):
    settings.CT_API_TOKEN_FAILURE_RATE = "1/min"
    client = token_client(viewer, fresh_address())
    assert [client.get("/api/v1/systems/").status_code for _ in range(4)] == [200] * 4


def test_anonymous_calls_are_limited_per_address(settings):
    settings.CT_API_ANON_RATE = "2/min"
    client = Client(REMOTE_ADDR=fresh_address())
    codes = [client.get("/api/docs/").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_the_inbound_door_is_limited_per_system_not_per_address(demo, settings):
    settings.CT_API_ANON_RATE = "1/min"
    client = Client(REMOTE_ADDR=fresh_address())
    for number in ("C-1", "C-2", "C-3"):
        assert signed_post(client, "crm", customer_event(number)).status_code == 202


def test_a_cache_that_does_not_answer_lets_api_calls_through(viewer, settings):
    settings.CT_API_USER_RATE = "1/min"
    settings.CT_API_TOKEN_FAILURE_RATE = "1/min"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    client = token_client(viewer, fresh_address())
    assert [client.get("/api/v1/systems/").status_code for _ in range(3)] == [200] * 3
    guess = Client(HTTP_AUTHORIZATION="Token wrong", REMOTE_ADDR=fresh_address())
    assert [guess.get("/api/v1/systems/").status_code for _ in range(3)] == [401] * 3
