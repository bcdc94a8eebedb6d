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


@pytest.mark.django_db
def test_healthz_answers_with_the_database_vendor(client):
    from django.db import connection

    assert client.get("/healthz").json() == {"status": "ok", "database": connection.vendor}
