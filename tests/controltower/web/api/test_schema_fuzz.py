"""The API against its own published schema: generated requests from every operation of
``/api/schema/``, sent by an admin with a token, must never meet a server error, and every
answer must be what the schema says (its body and its content type).

A wider exploration is the same test with more examples and the coverage phase on (see
``CONFIG``); it is what found the cases that test_input_guards.py keeps.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from tests.support.work_scene import work_scene

# What is bounded, and why: the whole module has to stay well under two minutes on a small
# shared CI machine. The examples and fuzzing phases run, with 10 derandomized examples per
# operation (the same requests every run: a failure reproduces, the time is steady).
# Schemathesis's coverage phase (every boundary value of every parameter, about a minute more
# here) is off; the boundary cases it found (ids that are not integers, UTC offsets past
# ±14:00, ids past 2^63) are each kept as a test in test_input_guards.py.
CONFIG = schemathesis.Config.from_dict({"phases": {"coverage": {"enabled": False}}})
EXAMPLES_PER_OPERATION = 10
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture
def scene(db) -> None:
    """Rows in every list (exceptions, approvals, breaches, notifications, reconciliation), so
    that each answer's schema is checked against real records, not only empty pages."""
    work_scene()


@pytest.fixture
def api_schema(scene) -> Iterator[object]:
    # As Django's test client does: the test's database connection (and its transaction)
    # outlives each request instead of being closed when the request ends.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/", WSGIHandler(), config=CONFIG)
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


@pytest.fixture
def admin_token(scene) -> str:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    admin = get_user_model().objects.get(username="admin")
    return Token.objects.get_or_create(user=admin)[0].key


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_its_schema_says_and_never_with_a_server_error(
    case, admin_token
):
    case.call_and_validate(headers={"Authorization": f"Token {admin_token}"}, checks=CHECKS)
