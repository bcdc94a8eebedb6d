"""Batch import: dry run against real run, a stopped import resumed, bad rows refused by row
and field, and the refused rows' CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta

import pytest
from django.core.management import call_command

from canonical.models import Customer, RateCard, Resource, TimeEntry
from integrations.choices import ImportRowOutcome, ImportState, TransactionState
from integrations.models import ImportJob, ImportRow, Transaction
from integrations.services.imports import (
    ImportTakenOver,
    import_create,
    import_refused_csv,
    import_run,
)
from tests.factories.canonical import AssignmentFactory, ContractFactory, ProjectFactory

pytestmark = pytest.mark.django_db

CUSTOMER_COLUMNS = "number,name,legal_entity,currency,version"


def customers_file(rows: list[str]) -> bytes:
    return "\n".join([CUSTOMER_COLUMNS, *rows]).encode()


def report(job: ImportJob) -> list[tuple]:
    return list(
        ImportRow.objects.filter(job=job)
        .order_by("number")
        .values_list("number", "business_key", "outcome", "fields", "errors")
    )


def imported(content: bytes, **options) -> ImportJob:
    job = import_create(kind="customers", content=content, file_name="customers.csv", **options)
    return import_run(job_id=job.pk)


def test_a_dry_run_reports_by_row_and_field_what_the_real_run_then_does(demo):
    content = customers_file(
        [
            "C-7001,Wayne Enterprises,US01,USD,1",  # created
            "C-1001,Acme Corporation Holdings,US01,USD,2",  # changed: name
            "C-1002,Globex Ltd,GB01,GBP,1",  # unchanged: the version the tower holds
            "C-7002,Tyrell Corp,US01,usd,1",  # refused: currency
            "C-7003,,US01,USD,1",  # refused: name missing
            "C-7004,Cyberdyne,NL01,USD,1",  # refused: no such legal entity
            "C-7001,Wayne Enterprises Inc,US01,USD,2",  # changed: by the row above it
            "C-7005,Oscorp,US01,USD,x",  # refused: version
        ]
    )
    dry = imported(content, dry_run=True, system_slug="crm")

    assert Transaction.objects.count() == 0 and not Customer.objects.filter(number="C-7001")
    expected = [
        (1, "C-7001", "created", [], {}),
        (2, "C-1001", "changed", ["name"], {}),
        (3, "C-1002", "unchanged", [], {}),
        (4, "C-7002", "refused", [], {"currency": ["'usd' does not match '^[A-Z]{3}$'"]}),
        (5, "C-7003", "refused", [], {"name": ["This field is required."]}),
        (6, "C-7004", "refused", [], {"legal_entity": ["No legal entity NL01 in the tower."]}),
        (7, "C-7001", "changed", ["name"], {}),
        (8, "C-7005", "refused", [], {"version": ["'x' is not of type 'integer'"]}),
    ]
    assert report(dry) == expected
    assert (dry.created, dry.changed, dry.unchanged, dry.refused) == (1, 2, 1, 4)

    real = imported(content, system_slug="crm")

    assert report(real) == expected
    assert (real.created, real.changed, real.unchanged, real.refused, real.blocked) == (
        1,
        2,
        1,
        4,
        0,
    )
    assert Customer.objects.get(number="C-7001").name == "Wayne Enterprises Inc"
    assert Customer.objects.get(number="C-1001").name == "Acme Corporation Holdings"
    states = Transaction.objects.values_list("state", flat=True)
    assert len(states) == 4 and set(states) == {TransactionState.SUCCEEDED}


def test_an_import_stopped_after_a_chunk_resumes_without_storing_anything_twice(demo, settings):
    settings.CT_IMPORT_CHUNK_ROWS = 10
    content = customers_file([f"C-8{n:03d},Customer {n},US01,USD,1" for n in range(35)])
    job = import_create(kind="customers", content=content, file_name="c.csv", system_slug="crm")
    chunks = []

    def crash(job: ImportJob) -> None:
        chunks.append(job.cursor)
        if len(chunks) == 2:
            raise KeyboardInterrupt  # Ctrl-C, or a crash, after the second chunk committed

    with pytest.raises(KeyboardInterrupt):
        import_run(job_id=job.pk, on_chunk=crash)
    job.refresh_from_db()
    assert (job.state, job.cursor, job.created) == (ImportState.INTERRUPTED, 20, 20)
    assert Transaction.objects.count() == 20

    call_command("import_records", resume=job.pk, stdout=io.StringIO())

    job.refresh_from_db()
    assert (job.state, job.cursor, job.created, job.rows_done) == (ImportState.DONE, 35, 35, 35)
    assert Customer.objects.filter(number__startswith="C-8").count() == 35
    keys = list(Transaction.objects.values_list("idempotency_key", flat=True))
    assert len(keys) == len(set(keys)) == 35
    assert ImportRow.objects.filter(job=job).count() == 35

    # The same file again, as a new job: every row is one the tower holds; nothing is stored.
    again = imported(content, system_slug="crm")
    assert (again.unchanged, again.created) == (35, 0)
    assert Transaction.objects.count() == 35


def test_ten_thousand_rows_with_five_percent_bad_ones_refuse_those_by_row_and_field(demo):
    lines = [CUSTOMER_COLUMNS]
    bad = {}
    for n in range(1, 10_001):
        row = [f"C-{n:05d}", f"Customer {n}", "US01", "USD", "1"]
        if n % 20 == 0:  # every twentieth row is bad, in one of four ways
            way = (n // 20) % 4
            column = ["currency", "legal_entity", "name", "version"][way]
            row[[3, 2, 1, 4][way]] = ["usd", "NL01", "", "two"][way]
            bad[n] = column
        lines.append(",".join(row))

    job = imported("\n".join(lines).encode(), system_slug="crm")

    assert (job.rows_total, job.created, job.refused, job.blocked) == (10_000, 9_500, 500, 0)
    assert Customer.objects.filter(number__startswith="C-0").count() == 9_500
    refused = ImportRow.objects.filter(job=job, outcome=ImportRowOutcome.REFUSED)
    assert {number: list(errors) for number, errors in refused.values_list("number", "errors")} == {
        number: [column] for number, column in bad.items()
    }


@pytest.fixture
def staffed_project(demo):
    """An active time-and-materials project on the US rate card, four consultants on it."""
    contract = ContractFactory(
        number="K-9100",
        customer=Customer.objects.get(number="C-1001"),
        rate_card=RateCard.objects.get(code="RC-US-STD"),
    )
    project = ProjectFactory(code="P-9100", contract=contract)
    people = []
    for n in range(4):
        resource = Resource.objects.create(
            employee_number=f"E-91{n:02d}",
            name=f"Person {n}",
            role="Consultant",
            legal_entity=contract.legal_entity,
            source_system="hris",
        )
        AssignmentFactory(project=project, resource=resource, role="Consultant")
        people.append(resource.employee_number)
    return project, people


def test_approved_time_runs_through_time_to_billing_and_a_row_naming_no_project_is_refused(
    staffed_project,
):
    project, people = staffed_project
    lines = ["number,project,resource,work_date,hours,billable"]
    for n in range(1, 41):
        day = (date(2026, 1, 5) + timedelta(days=n % 20)).isoformat()
        code = "P-NOPE" if n in (7, 30) else project.code
        lines.append(f"T-{n:05d},{code},{people[n % 4]},{day},4,true")

    job = import_create(
        kind="time", content="\n".join(lines).encode(), file_name="time.csv", system_slug="psa"
    )
    job = import_run(job_id=job.pk)

    assert (job.created, job.refused, job.blocked) == (38, 2, 0)
    assert TimeEntry.objects.filter(project=project).count() == 38
    assert dict(
        ImportRow.objects.filter(job=job, outcome="refused").values_list("number", "errors")
    ) == {n: {"project": ["No project P-NOPE in the tower."]} for n in (7, 30)}


def test_the_refused_rows_download_as_csv_with_a_reason_column(demo):
    job = imported(
        customers_file(["C-7101,Good,US01,USD,1", 'C-7102,"Bad, Inc",US01,dollars,1']),
        system_slug="crm",
    )
    rows = list(csv.DictReader(io.StringIO("".join(import_refused_csv(job=job)))))
    assert rows == [
        {
            "row": "2",
            "number": "C-7102",
            "name": "Bad, Inc",
            "legal_entity": "US01",
            "currency": "dollars",
            "version": "1",
            "reason": "currency: 'dollars' does not match '^[A-Z]{3}$'",
        }
    ]


def test_json_lines_take_flat_records_or_whole_events_and_refuse_a_line_that_is_not_json(demo):
    lines = [
        json.dumps({"number": "C-7201", "name": "Flat", "legal_entity": "US01", "currency": "USD"}),
        "",
        json.dumps(
            {
                "id": "crm-evt-1",
                "version": 3,
                "data": {
                    "number": "C-7202",
                    "name": "Event",
                    "legal_entity": "US01",
                    "currency": "EUR",
                },
            }
        ),
        "{not json",
    ]
    job = import_create(
        kind="customers", content="\n".join(lines), file_name="c.jsonl", system_slug="crm"
    )
    job = import_run(job_id=job.pk)
    assert report(job) == [
        (1, "C-7201", "created", [], {}),
        (2, "C-7202", "created", [], {}),
        (
            3,
            "",
            "refused",
            [],
            {"(row)": ["Not JSON: Expecting property name enclosed in double quotes (column 2)."]},
        ),
    ]
    assert Customer.objects.get(number="C-7202").version == 3
    assert Transaction.objects.filter(idempotency_key="crm-evt-1").exists()


def test_a_file_whose_columns_do_not_fit_its_kind_is_refused_naming_them(demo):
    from canonical.errors import ApplicationError

    with pytest.raises(ApplicationError) as refused:
        import_create(
            kind="customers",
            content=b"number,name,colour\nC-1,A,red\n",
            file_name="c.csv",
            system_slug="crm",
        )
    assert list(refused.value.errors) == ["colour"]
    assert not ImportJob.objects.exists()


def test_a_run_that_finds_its_job_moved_on_by_another_run_stops_keeping_nothing(demo, settings):
    settings.CT_IMPORT_CHUNK_ROWS = 10
    content = customers_file([f"C-86{n:02d},Customer {n},US01,USD,1" for n in range(30)])
    job = import_create(kind="customers", content=content, file_name="c.csv", system_slug="crm")

    def another_run_moves_on(job: ImportJob) -> None:
        if job.cursor == 10:  # another run of the job commits rows 11 to 20 meanwhile
            ImportJob.objects.filter(pk=job.pk).update(cursor=20, state=ImportState.RUNNING)

    with pytest.raises(ImportTakenOver):
        import_run(job_id=job.pk, on_chunk=another_run_moves_on)

    job.refresh_from_db()
    assert (job.state, job.cursor) == (ImportState.RUNNING, 20)  # the other run's to finish
    assert ImportRow.objects.filter(job=job).count() == 10
    assert Transaction.objects.count() == 10
