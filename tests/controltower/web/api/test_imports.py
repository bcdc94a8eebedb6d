"""The imports API: an admin uploads a file and follows its job; the report by row, the
refused rows as CSV; who may do what."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from canonical.models import Customer
from integrations.tasks import import_run_task

pytestmark = pytest.mark.django_db

FILE = b"number,name,legal_entity,currency\nC-7301,Wayne Enterprises,US01,USD\nC-7302,Tyrell,US01,usd\n"


def upload(client, content=FILE, **fields):
    return client.post(
        "/api/v1/imports/",
        {"kind": "customers", "file": SimpleUploadedFile("customers.csv", content), **fields},
        format="multipart",
    )


def test_an_admin_uploads_a_file_follows_its_import_and_downloads_the_refused_rows(
    demo, user_with_role, api_client_for
):
    client = api_client_for(user_with_role("admin"))

    answer = upload(client, system="crm")
    assert answer.status_code == 202, answer.json()
    job = answer.json()
    assert (job["state"], job["rows_total"], job["system"]) == ("queued", 2, "crm")

    import_run_task(job["id"])  # what the worker the answer queued it for does

    job = client.get(f"/api/v1/imports/{job['id']}/").json()
    assert (job["state"], job["progress"], job["created"], job["refused"]) == ("done", 100, 1, 1)
    assert Customer.objects.filter(number="C-7301").exists()
    rows = client.get(f"/api/v1/imports/{job['id']}/rows/", {"outcome": "refused"}).json()
    assert [(r["number"], r["errors"]) for r in rows["results"]] == [
        (2, {"currency": ["'usd' does not match '^[A-Z]{3}$'"]})
    ]
    refused = client.get(f"/api/v1/imports/{job['id']}/refused/", HTTP_ACCEPT="text/csv")
    assert refused.status_code == 200 and refused["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(b"".join(refused.streaming_content).decode())))
    assert [(row["row"], row["number"], row["reason"]) for row in table] == [
        ("2", "C-7302", "currency: 'usd' does not match '^[A-Z]{3}$'")
    ]


def test_a_file_that_does_not_fit_is_a_400_naming_what_is_wrong(
    demo, user_with_role, api_client_for
):
    client = api_client_for(user_with_role("admin"))
    answer = upload(client, content=b"number,colour\nC-1,red\n", system="crm")
    assert answer.status_code == 400
    assert answer.json()["errors"] == {"colour": [answer.json()["errors"]["colour"][0]]}
    assert "Unknown column" in answer.json()["errors"]["colour"][0]
    assert upload(client, system="nowhere").json()["errors"] == {"system": ["nowhere"]}


def test_an_operator_reads_imports_but_neither_starts_one_nor_reads_the_refused_rows(
    demo, user_with_role, api_client_for
):
    admin = api_client_for(user_with_role("admin"))
    job = upload(admin, system="crm").json()
    operator = api_client_for(user_with_role("operator"))
    assert operator.get(f"/api/v1/imports/{job['id']}/").status_code == 200
    assert upload(operator, system="crm").status_code == 403
    assert operator.get(f"/api/v1/imports/{job['id']}/refused/").status_code == 403
    assert operator.post(f"/api/v1/imports/{job['id']}/resume/").status_code == 403
