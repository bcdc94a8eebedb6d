"""The imports page: upload a dry run, read its report, import it for real, follow it, and
download the refused rows."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from canonical.models import Customer
from integrations.models import ImportJob
from integrations.tasks import import_run_task
from tests.support.pages import signed_in

pytestmark = pytest.mark.django_db

FILE = b"number,name,legal_entity,currency,version\nC-7401,Wayne,US01,USD,1\nC-1001,Acme Renamed,US01,USD,2\nC-7402,Tyrell,NL01,USD,1\n"


def test_an_admin_dry_runs_a_file_reads_the_report_then_imports_it_for_real(demo, user_with_role):
    client = signed_in(user_with_role("admin"))
    page = client.get("/imports/")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text

    answer = client.post(
        "/imports/",
        {
            "kind": "customers",
            "file": SimpleUploadedFile("customers.csv", FILE),
            "system": "crm",
            "dry_run": "on",
            "push_downstream": "on",
        },
    )
    dry = ImportJob.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/imports/{dry.pk}/"
    import_run_task(dry.pk)

    report = client.get(f"/imports/{dry.pk}/")
    assert "Dry run:" in report.text and "Import it for real" in report.text
    assert (
        "No legal entity NL01 in the tower." in report.text and "<code>name</code>" in report.text
    )
    assert not Customer.objects.filter(number="C-7401").exists()
    progress = client.get(f"/imports/{dry.pk}/", HTTP_HX_REQUEST="true")
    assert progress.text.lstrip().startswith('<div id="import-progress"')
    assert "hx-trigger" not in progress.text  # finished: it stops polling

    real = client.post(f"/imports/{dry.pk}/run/")
    job = ImportJob.objects.exclude(pk=dry.pk).get()
    assert real["Location"] == f"/imports/{job.pk}/" and not job.dry_run
    import_run_task(job.pk)
    assert Customer.objects.get(number="C-1001").name == "Acme Renamed"
    refused = client.get(f"/imports/{job.pk}/refused.csv")
    lines = b"".join(refused.streaming_content).decode().splitlines()
    assert lines[0].endswith(",reason") and "No legal entity NL01" in lines[1]


def test_a_viewer_sees_the_imports_but_no_upload_form(demo, user_with_role):
    client = signed_in(user_with_role("viewer"))
    assert 'enctype="multipart/form-data"' not in client.get("/imports/").text
    assert client.post("/imports/", {"kind": "customers"}).status_code == 403
