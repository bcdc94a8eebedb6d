"""Sign-in attempts are limited per user name and per address; the lockout says so and an
admin lifts it (audited)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from controltower.operations.models import AuditEvent

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-9"  # the conftest's users' password


def sign_in(username: str, password: str, address: str = "10.0.0.1") -> object:
    return Client(REMOTE_ADDR=address).post("/login/", {"username": username, "password": password})


def signed_in(response: object) -> bool:
    return response.status_code == 302 and response["Location"] == "/"


def fail(username: str, times: int, address: str = "10.0.0.1") -> list[int]:
    return [sign_in(username, "not-it", address).status_code for _ in range(times)]


@pytest.fixture
def olivia(user_with_role):
    return user_with_role("operator", "olivia")


def test_a_wrong_password_counts_and_the_fifth_locks_the_user_out_with_a_page_saying_so(olivia):
    assert fail("olivia", 4) == [200] * 4  # the sign-in page again, with its error
    locked = sign_in("olivia", "not-it")
    assert locked.status_code == 429
    assert locked["Retry-After"] == str(15 * 60)
    page = locked.content.decode()
    assert "Sign-in is locked for now" in page and "15 minutes" in page and "olivia" in page


def test_a_locked_out_user_is_refused_even_with_the_right_password(olivia):
    fail("olivia", 5)
    assert sign_in("olivia", PASSWORD).status_code == 429
    assert sign_in("olivia", PASSWORD, address="10.0.0.2").status_code == 429  # per user name


def test_an_address_that_tried_many_user_names_is_locked_out_for_all_of_them(olivia):
    for name in ("ann", "bob", "cy", "dee", "eve"):
        fail(name, 1, address="10.0.0.9")
    assert sign_in("olivia", PASSWORD, address="10.0.0.9").status_code == 429
    assert signed_in(sign_in("olivia", PASSWORD, address="10.0.0.10"))


def test_a_forwarded_for_header_does_not_give_a_guesser_a_new_address(olivia):
    for n in range(5):
        Client(REMOTE_ADDR="10.0.0.7", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}").post(
            "/login/", {"username": f"user-{n}", "password": "not-it"}
        )
    assert sign_in("olivia", PASSWORD, address="10.0.0.7").status_code == 429


def test_a_success_before_the_limit_starts_the_count_again(olivia):
    fail("olivia", 4)
    assert signed_in(sign_in("olivia", PASSWORD))
    assert fail("olivia", 4) == [200] * 4


def test_the_lockout_ends_by_itself_fifteen_minutes_after_the_last_try(olivia):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        fail("olivia", 5)
        clock.shift(timedelta(minutes=14))
        assert sign_in("olivia", PASSWORD).status_code == 429  # a try while locked counts too
        clock.shift(timedelta(minutes=14))
        assert sign_in("olivia", PASSWORD).status_code == 429
        clock.shift(timedelta(minutes=16))
        assert signed_in(sign_in("olivia", PASSWORD))


def test_an_admin_lifts_a_lockout_in_the_admin_and_it_is_audited(olivia, user_with_role):
    fail("olivia", 5)
    admin = user_with_role("admin", "ada")
    admin.is_staff = True
    admin.save(update_fields=["is_staff"])
    desk = Client()
    desk.force_login(admin)
    listing = desk.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and "olivia" in listing.content.decode()
    from axes.models import AccessAttempt

    attempt = AccessAttempt.objects.get(username="olivia")
    answer = desk.post(
        "/admin/axes/accessattempt/",
        {"action": "lift", "_selected_action": [attempt.pk]},
        follow=True,
    )
    assert "Lifted 1 lockout(s)" in answer.content.decode()
    assert signed_in(sign_in("olivia", PASSWORD))
    audit = AuditEvent.objects.get(action="login_lockout.lift")
    assert audit.actor == admin and audit.object_id == "olivia"
    assert audit.before[0]["failures"] == 5 and audit.before[0]["ip_address"] == "10.0.0.1"


def test_only_the_admin_role_may_see_and_lift_lockouts(user_with_role):
    admin, operator = user_with_role("admin"), user_with_role("operator")
    assert admin.has_perm("axes.delete_accessattempt")
    assert not operator.has_perm("axes.view_accessattempt")
    assert not operator.has_perm("axes.delete_accessattempt")
