"""The project as a whole: the OpenAPI schema, production settings, health."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml  # drf-spectacular depends on PyYAML
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_the_openapi_schema_generates_and_validates_without_warnings(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    assert "/api/v1/inbound/{system_slug}/" in schema["paths"]
    assert "/api/v1/transactions/{id}/retry/" in schema["paths"]


@pytest.mark.django_db
def test_the_schema_and_docs_are_served(client, user_with_role):
    client.force_login(user_with_role("viewer"))
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200


def test_production_settings_pass_the_deployment_check():
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CT_DEMO", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"))
    }
    env.update(
        SECRET_KEY="x" * 20 + "-production-secret-key-0123456789abcdefghijkl",
        ALLOWED_HOSTS="tower.example.com",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_production_environment_the_readme_describes_passes_the_deployment_check():
    """Every variable of "Running in production", set as a real deployment sets them."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CT_DEMO", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"))
    }
    env.update(
        SECRET_KEY="k" * 10 + "-another-production-secret-key-9876543210zyxwvu",
        ALLOWED_HOSTS="tower.example.com,10.0.0.7",
        CSRF_TRUSTED_ORIGINS="https://tower.example.com",
        SECURE_PROXY_SSL_HEADER="1",
        DATABASE_URL="postgres://tower:secret@db.internal:5432/tower",
        REDIS_URL="redis://redis.internal:6379/0",
        CT_ENCRYPTION_KEYS="bWFrZS1hLXJlYWwta2V5LXdpdGgtRmVybmV0LTMyYnl0ZXM=",
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', "
            "'controltower.settings'); django.setup(); from django.conf import settings as s; "
            "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
            "s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER, "
            "s.CT_SIMULATOR_ENABLED, s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL)",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.split() == [
        "False",
        "True",
        "True",
        "True",
        "31536000",
        "('HTTP_X_FORWARDED_PROTO',",
        "'https')",
        "False",
        "django.db.backends.postgresql",
        "redis://redis.internal:6379/0",
    ], result.stderr
    check = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "no issues" in check.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k not in ("CT_DEMO", "SECRET_KEY")}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "SECRET_KEY is not set" in result.stderr


@pytest.mark.parametrize(
    ("variables", "refusal"),
    [
        ({"SECRET_KEY": "short-key"}, "SECRET_KEY is too weak"),
        ({"SECRET_KEY": "a" * 60}, "SECRET_KEY is too weak"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS is not set"),
    ],
    ids=["a-short-key", "a-key-of-one-character", "no-allowed-hosts"],
)
def test_production_refuses_to_start_with_a_weak_key_or_no_allowed_hosts(variables, refusal):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CT_DEMO")}
    env.update(
        {
            "SECRET_KEY": "x" * 20 + "-production-secret-key-0123456789abcdefghijkl",
            "ALLOWED_HOSTS": "tower.example.com",
            **variables,
        }
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and refusal in result.stderr


@pytest.mark.django_db
def test_healthz_answers_with_the_database_vendor(client):
    from django.db import connection

    assert client.get("/healthz").json() == {"status": "ok", "database": connection.vendor}
