"""Batch import of history: customers, contracts, projects, assignments, resources and
approved time from a CSV or JSON Lines file, through the same door and flows as live events.

Each row becomes the canonical event of its kind (columns are the canonical field names;
see README "Batch import"), checked by the event type's JSON Schema, classified against the
canonical records (would create, change, leave unchanged, or refuse, by field), then
stored as a transaction of the job's system by ``events_store`` (the inbound path: same
idempotency, same queues) and run by ``transactions_process`` (same claims, same batch and
one-by-one handlers). A chunk's transactions, its rows' report and the job's cursor commit
in one database transaction, so a job stopped anywhere (a crash, Ctrl-C, a killed worker)
resumes after its last committed chunk and stores nothing twice; an event id is the
record's key and version, so importing the same file again duplicates nothing either.

A dry run does all of it but the storing and running: it writes the report only.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from celery import current_app
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import Count, F
from django.utils import timezone

from canonical.errors import ApplicationError, ConflictError
from canonical.models import (
    Assignment,
    Contract,
    Customer,
    LegalEntity,
    Project,
    RateCard,
    Resource,
    TimeEntry,
)
from canonical.services.base import business_key
from canonical.validators import unstorable_text
from integrations.adapters import EventRejected, InboundEvent
from integrations.adapters.canonical import CanonicalAdapter
from integrations.choices import (
    Domain,
    ImportFormat,
    ImportKind,
    ImportRowOutcome,
    ImportState,
    Outcome,
    TransactionState,
)
from integrations.live import figures_changed
from integrations.models import ConnectedSystem, ImportJob, ImportRow, SyncState, Transaction
from integrations.schemas.registry import current_version
from integrations.services.inbound import events_store
from integrations.services.ownership import owner_of
from integrations.services.processing import transactions_process

logger = logging.getLogger(__name__)

# Columns of the event's envelope; every other column is a field of its ``data``.
ENVELOPE_COLUMNS = ("id", "version", "schema_version", "occurred_at", "correlation_id")
ROW = "(row)"


@dataclass(frozen=True)
class Reference:
    """A column naming another canonical record that must exist for the row to run."""

    column: str
    model: type[models.Model]
    key_field: str
    label: str


@dataclass(frozen=True)
class KindSpec:
    """How a kind of import maps to the canonical dialect and is classified."""

    event_type: str
    model: type[models.Model]
    key_field: str  # the model's business key
    key_column: str  # the data field that holds it
    domain: str
    references: tuple[Reference, ...] = ()
    # The version a row is judged against is the sender's own (in its sync state), not
    # the canonical one: ``project.upserted`` is judged so by its handler.
    sender_versions: bool = False


LEGAL_ENTITY = Reference("legal_entity", LegalEntity, "code", "legal entity")
CUSTOMER = Reference("customer", Customer, "number", "customer")
PROJECT = Reference("project", Project, "code", "project")
RESOURCE = Reference("resource", Resource, "employee_number", "resource")

KINDS: dict[str, KindSpec] = {
    ImportKind.CUSTOMERS: KindSpec(
        "customer.upserted", Customer, "number", "number", Domain.CUSTOMER, (LEGAL_ENTITY,)
    ),
    ImportKind.CONTRACTS: KindSpec(
        "contract.signed",
        Contract,
        "number",
        "number",
        Domain.CONTRACT,
        (CUSTOMER, LEGAL_ENTITY, Reference("rate_card", RateCard, "code", "rate card")),
    ),
    ImportKind.PROJECTS: KindSpec(
        "project.upserted",
        Project,
        "code",
        "code",
        Domain.PROJECT,
        (Reference("code", Project, "code", "project"),),
        sender_versions=True,
    ),
    ImportKind.ASSIGNMENTS: KindSpec(
        "assignment.upserted", Assignment, "number", "number", Domain.PROJECT, (PROJECT, RESOURCE)
    ),
    ImportKind.RESOURCES: KindSpec(
        "resource.upserted",
        Resource,
        "employee_number",
        "employee_number",
        Domain.RESOURCE,
        (LEGAL_ENTITY,),
    ),
    ImportKind.TIME: KindSpec(
        "time_entry.approved", TimeEntry, "number", "number", Domain.TIME, (PROJECT, RESOURCE)
    ),
}

_adapter = CanonicalAdapter()


class ImportRefused(ApplicationError):
    """An import that cannot start: the message names what is wrong."""


# --- creating a job ------------------------------------------------------------------------


def import_create(
    *,
    kind: str,
    content: bytes | str,
    file_name: str = "",
    file_format: str | None = None,
    system_slug: str | None = None,
    dry_run: bool = False,
    push_downstream: bool = True,
    requested_by: Any = None,
) -> ImportJob:
    """Keeps the file as a new job and counts its rows; nothing of it runs yet."""
    errors: dict[str, list[str]] = {}
    if kind not in KINDS:
        errors["kind"] = [f"Unknown kind {kind!r}; one of: {', '.join(ImportKind.values)}."]
    file_format = file_format or _format_of(file_name)
    if file_format not in ImportFormat.values:
        errors["format"] = [
            f"Unknown format {file_format!r}; one of: {', '.join(ImportFormat.values)} "
            "(or a file name ending in .csv, .jsonl or .ndjson)."
        ]
    if len(content) > settings.CT_IMPORT_MAX_BYTES:
        errors["file"] = [f"At most {settings.CT_IMPORT_MAX_BYTES} bytes; split the file."]
    elif isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            errors["file"] = [f"The file is not UTF-8 text (byte {exc.start})."]
            content = ""
    if "\x00" in content:
        errors["file"] = ["The file holds a NUL character."]
    if errors:
        raise ImportRefused("The import cannot start.", errors=errors)
    system = _system_of(kind, system_slug)
    job = ImportJob(
        kind=kind,
        format=file_format,
        file_name=file_name[:255],
        content=content,
        system=system,
        dry_run=dry_run,
        push_downstream=push_downstream,
        requested_by=requested_by if getattr(requested_by, "pk", None) else None,
    )
    job.rows_total = sum(1 for _ in _rows_of(job))
    if not job.rows_total:
        raise ImportRefused("The file holds no rows.", errors={"file": ["No data rows."]})
    if job.format == ImportFormat.CSV:
        header = _csv_header(content)
        if header_errors := _header_check(kind, header):
            raise ImportRefused("The file's columns do not fit its kind.", errors=header_errors)
    job.save()
    return job


def _format_of(file_name: str) -> str:
    lower = file_name.lower()
    if lower.endswith(".csv"):
        return ImportFormat.CSV
    if lower.endswith((".jsonl", ".ndjson")):
        return ImportFormat.JSONL
    return ""


def _system_of(kind: str, slug: str | None) -> ConnectedSystem:
    """The system named, else the system of record of the kind's data."""
    if slug:
        system = ConnectedSystem.objects.filter(slug=slug).first()
        if system is None:
            raise ImportRefused(f"Unknown system {slug!r}.", errors={"system": [slug]})
        return system
    owner = owner_of(KINDS[kind].domain)
    if owner is None:
        raise ImportRefused(
            f"No system owns {KINDS[kind].domain.replace('_', ' ')} data: name the system the "
            "history comes from.",
            errors={"system": ["This field is required for this kind."]},
        )
    return ConnectedSystem.objects.get(pk=owner)


def _csv_header(content: str) -> list[str]:
    return next(csv.reader(io.StringIO(content)), [])


def _header_check(kind: str, header: list[str]) -> dict[str, list[str]]:
    """Columns the kind's events do not have are refused up front, not row by row."""
    properties = _data_properties(KINDS[kind].event_type)
    unknown = [
        column
        for column in header
        if column and column not in ENVELOPE_COLUMNS and column.split(".")[0] not in properties
    ]
    if not unknown:
        return {}
    known = ", ".join([*ENVELOPE_COLUMNS, *properties])
    return {column: [f"Unknown column; the columns of this kind: {known}."] for column in unknown}


def _data_properties(event_type: str) -> dict[str, Any]:
    return _adapter.schema(event_type)["properties"]["data"]["properties"]


# --- reading rows --------------------------------------------------------------------------


@dataclass
class ReadRow:
    number: int
    raw: dict[str, Any]
    event: dict[str, Any] | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    key: str = ""
    version: int = 1
    inbound: InboundEvent | None = None


def _rows_of(job: ImportJob, start: int = 0) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(row number, the row as read) from row ``start + 1`` on; a JSON line that is not an
    object comes as its text, to be refused."""
    if job.format == ImportFormat.CSV:
        reader = csv.DictReader(io.StringIO(job.content))
        for number, row in enumerate(reader, start=1):
            if number <= start:
                continue
            if None in row:  # more cells than columns
                row = {**row, ROW: row.pop(None)}
            yield number, row
        return
    number = 0
    for line in io.StringIO(job.content):
        if not line.strip():
            continue
        number += 1
        if number <= start:
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, f"Not JSON: {exc.msg} (column {exc.colno})."
            continue
        yield number, value if isinstance(value, dict) else "Not a JSON object."


def _read(job: ImportJob, number: int, raw: dict[str, Any] | str) -> ReadRow:
    """The row as its canonical event, or the errors by column that refuse it."""
    spec = KINDS[job.kind]
    if isinstance(raw, str):
        return ReadRow(number, {ROW: raw}, errors={ROW: [raw]})
    if job.format == ImportFormat.CSV:
        if ROW in raw:
            return ReadRow(number, raw, errors={ROW: ["More cells than the header has columns."]})
        envelope, data = _from_csv(spec.event_type, raw)
    elif isinstance(raw.get("data"), dict):  # a whole event of the canonical dialect
        envelope = {k: raw[k] for k in ENVELOPE_COLUMNS if k in raw}
        data = raw["data"]
    else:
        envelope = {k: raw[k] for k in ENVELOPE_COLUMNS if k in raw}
        data = {k: v for k, v in raw.items() if k not in ENVELOPE_COLUMNS}
    row = ReadRow(number, raw)
    version = envelope.get("version", 1)
    if isinstance(version, str):
        version = int(version) if version.strip().isdigit() else version
    key = data.get(spec.key_column)
    row.key = business_key(key) if isinstance(key, str) else ""
    event = {
        "type": spec.event_type,
        "id": envelope.get("id") or f"import:{spec.event_type}:{row.key}:v{version}",
        "occurred_at": envelope.get("occurred_at") or job.created_at.isoformat(),
        "version": version,
        "data": data,
    }
    if envelope.get("correlation_id"):
        event["correlation_id"] = envelope["correlation_id"]
    # A CSV's cells are read as the type's current schema wants them, so the row is of that
    # version unless it names another; a JSON line is of the version it names (else the first).
    schema_version = envelope.get("schema_version")
    if isinstance(schema_version, str) and schema_version.strip().isdigit():
        schema_version = int(schema_version)
    if schema_version is None and job.format == ImportFormat.CSV:
        schema_version = current_version(spec.event_type)
    if schema_version is not None:
        event["schema_version"] = schema_version
    if (problem := unstorable_text(event)) is not None:
        path, message = problem
        row.errors = {_column(path or ROW): [message]}
        return row
    try:
        row.inbound = _adapter.validate_normalized(event)
    except EventRejected as exc:
        row.errors = {_column(path): messages for path, messages in exc.errors.items()}
        return row
    row.event = event
    row.version = version
    return row


def _column(path: str) -> str:
    """A field path of the event as the column that holds it."""
    return path.removeprefix("data.") or ROW


def _from_csv(event_type: str, raw: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A CSV row's cells as JSON values the schema expects: numbers, booleans, lists and
    objects (as JSON text) where it wants them; ``a.b`` columns as nested objects. An empty
    cell is a field left out. A cell that does not read as what the schema wants is kept as
    text, so the schema names it."""
    properties = _data_properties(event_type)
    envelope: dict[str, Any] = {}
    data: dict[str, Any] = {}
    for column, cell in raw.items():
        if column is None or cell is None or cell == "":
            continue
        if column in ENVELOPE_COLUMNS:
            envelope[column] = cell
            continue
        name, _, sub = column.partition(".")
        schema = properties.get(name, {})
        if sub:
            inner = schema.get("properties", {}).get(sub, {})
            data.setdefault(name, {})[sub] = _cell(cell, inner)
        else:
            data[name] = _cell(cell, schema)
    return envelope, data


def _cell(cell: str, schema: dict[str, Any]) -> Any:
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    if "string" in types and "array" not in types:
        return cell
    text = cell.strip()
    if "boolean" in types:
        lowered = text.lower()
        if lowered in ("true", "yes", "1"):
            return True
        if lowered in ("false", "no", "0"):
            return False
    if "integer" in types and text.lstrip("-").isdigit():
        return int(text)
    if "number" in types:
        try:
            return float(text) if any(c in text for c in ".eE") else int(text)
        except ValueError:
            pass
    if "array" in types or "object" in types:
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            pass
    return cell


# --- classifying rows ----------------------------------------------------------------------


@dataclass
class Verdict:
    outcome: str
    fields: list[str] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)


def _classify(job: ImportJob, rows: list[ReadRow], seen: dict[str, Seen]) -> dict[int, Verdict]:
    """What each row would do: refused (its errors by column), or, against the canonical
    records and the rows before it in the file (``seen``), created, changed (with the fields
    that change) or unchanged."""
    spec = KINDS[job.kind]
    good = [row for row in rows if row.event is not None]
    present = _references_present(spec, good)
    keys = {row.key for row in good}
    records = {
        getattr(record, spec.key_field): record
        for record in spec.model.objects.filter(**{f"{spec.key_field}__in": keys})
    }
    held = _held_versions(job, spec, records)
    verdicts: dict[int, Verdict] = {}
    for row in rows:
        if row.event is None:
            verdicts[row.number] = Verdict(ImportRowOutcome.REFUSED, errors=row.errors)
            continue
        data = row.event["data"]
        missing = {}
        for ref in spec.references:
            value = data.get(ref.column)
            if isinstance(value, str) and business_key(value) not in present[ref.column]:
                missing[ref.column] = [f"No {ref.label} {business_key(value)} in the tower."]
        if missing:
            verdicts[row.number] = Verdict(ImportRowOutcome.REFUSED, errors=missing)
            continue
        before = seen.get(row.key)
        version = before.version if before else held.get(row.key)
        if version is None and row.key not in records:
            verdict = Verdict(ImportRowOutcome.CREATED)
        elif version is not None and row.version <= version:
            verdict = Verdict(ImportRowOutcome.UNCHANGED)
        elif before is not None and before.data is not None:
            fields = [name for name, value in data.items() if before.data.get(name) != value]
            verdict = Verdict(ImportRowOutcome.CHANGED, fields=fields)
        else:
            record = records.get(row.key)
            fields = _changed_fields(record, data) if record is not None else []
            verdict = Verdict(ImportRowOutcome.CHANGED, fields=fields)
        if before is None or row.version > before.version:
            seen[row.key] = Seen(row.version, data)
        verdicts[row.number] = verdict
    return verdicts


@dataclass(frozen=True)
class Seen:
    """The latest version of a record an earlier row of the job took, and its fields (unknown
    for rows of a run before a resume: the record then holds them)."""

    version: int
    data: dict[str, Any] | None


def _references_present(spec: KindSpec, rows: list[ReadRow]) -> dict[str, set[str]]:
    present: dict[str, set[str]] = {}
    for ref in spec.references:
        values = {
            business_key(value)
            for row in rows
            if isinstance(value := row.event["data"].get(ref.column), str)
        }
        found = ref.model.objects.filter(**{f"{ref.key_field}__in": values})
        present[ref.column] = {business_key(v) for v in found.values_list(ref.key_field, flat=True)}
    return present


def _held_versions(
    job: ImportJob, spec: KindSpec, records: dict[str, models.Model]
) -> dict[str, int]:
    if not spec.sender_versions:
        return {key: record.version for key, record in records.items()}
    by_pk = {record.pk: key for key, record in records.items()}
    states = SyncState.objects.filter(
        content_type=ContentType.objects.get_for_model(spec.model),
        object_id__in=by_pk,
        system=job.system,
        source_version__isnull=False,
    ).values_list("object_id", "source_version")
    return {by_pk[object_id]: version for object_id, version in states}


def _changed_fields(record: models.Model, data: dict[str, Any]) -> list[str]:
    """The row's fields whose value differs from the record's (nested ones by name)."""
    changed = []
    for name, value in data.items():
        try:
            model_field = record._meta.get_field(name)
        except Exception:  # a field of the event the record keeps elsewhere
            continue
        if isinstance(value, dict | list):
            continue
        current = getattr(record, name, None)
        if model_field.is_relation and current is not None:
            key_field = {
                Customer: "number",
                Project: "code",
                Resource: "employee_number",
                LegalEntity: "code",
                RateCard: "code",
            }.get(type(current))
            current = getattr(current, key_field) if key_field else current
        if not _same(current, value):
            changed.append(name)
    return changed


def _same(current: Any, new: Any) -> bool:
    if current is None:
        return new in (None, "")
    if isinstance(current, bool) or isinstance(new, bool):
        return current == new
    if isinstance(current, Decimal | int | float):
        try:
            return Decimal(str(current)) == Decimal(str(new))
        except InvalidOperation:
            return False
    if isinstance(current, date | datetime):
        return current.isoformat()[: len(str(new))] == str(new)
    return str(current).strip().upper() == str(new).strip().upper()


# --- running a job -------------------------------------------------------------------------


class ImportTakenOver(ConflictError):
    """Another run of the same job moved its cursor: this one stops, keeping nothing."""


RUN_TASK = "integrations.tasks.import_run_task"


def import_start(*, job: ImportJob) -> None:
    """Sends the job to a worker once the current database transaction commits. Safe to
    call again for a job that is running: the second run stops at its first chunk."""
    if job.state == ImportState.DONE:
        raise ConflictError(f"Import #{job.pk} is done.", errors={"state": [job.state]})

    def send() -> None:
        current_app.signature(RUN_TASK, args=[job.pk]).delay()

    transaction.on_commit(send)


def import_run(*, job_id: int, on_chunk: Callable[[ImportJob], None] | None = None) -> ImportJob:
    """Runs (or resumes) a job from its cursor to the end; returns it, finished.

    ``on_chunk`` is called with the job after each committed chunk (a progress bar; a test
    that stops the run there). Whatever stops the run, the chunks committed stay, and the
    job says ``interrupted`` when it could say so: run it again to go on.
    """
    job = ImportJob.objects.select_related("system").get(pk=job_id)
    if job.state == ImportState.DONE:
        return job
    now = timezone.now()
    ImportJob.objects.filter(pk=job.pk).update(
        state=ImportState.RUNNING, started_at=job.started_at or now, last_error=""
    )
    job.refresh_from_db()
    try:
        _run(job, on_chunk)
    except ImportTakenOver:
        raise  # the job runs on elsewhere: its state is that run's
    except BaseException as exc:
        ImportJob.objects.filter(pk=job.pk, state=ImportState.RUNNING).update(
            state=ImportState.INTERRUPTED,
            last_error=f"Stopped after row {_cursor(job)}: {type(exc).__name__}: {exc}"[:2000],
        )
        raise
    imports_settle(job=job)
    ImportJob.objects.filter(pk=job.pk).update(state=ImportState.DONE, finished_at=timezone.now())
    job.refresh_from_db()
    figures_changed()
    return job


def _cursor(job: ImportJob) -> int:
    return ImportJob.objects.filter(pk=job.pk).values_list("cursor", flat=True).first() or 0


def _run(job: ImportJob, on_chunk: Callable[[ImportJob], None] | None) -> None:
    size = settings.CT_IMPORT_CHUNK_ROWS
    seen = _seen_before(job)
    chunk: list[ReadRow] = []
    for number, raw in _rows_of(job, start=job.cursor):
        chunk.append(_read(job, number, raw))
        if len(chunk) >= size:
            _chunk_commit(job, chunk, seen)
            chunk = []
            if on_chunk is not None:
                on_chunk(job)
    if chunk:
        _chunk_commit(job, chunk, seen)
        if on_chunk is not None:
            on_chunk(job)


def _seen_before(job: ImportJob) -> dict[str, Seen]:
    """The keys and versions the job's committed rows took (a resumed job goes on as if it
    had never stopped)."""
    seen: dict[str, Seen] = {}
    rows = job.rows.exclude(outcome=ImportRowOutcome.REFUSED).values_list("business_key", "version")
    for key, version in rows:
        if key not in seen or (version or 1) > seen[key].version:
            seen[key] = Seen(version or 1, None)
    return seen


def _chunk_commit(job: ImportJob, chunk: list[ReadRow], seen: dict[str, Seen]) -> None:
    start, end = job.cursor, chunk[-1].number
    snapshot = dict(seen)
    verdicts = _classify(job, chunk, seen)
    try:
        with transaction.atomic():
            stored = {} if job.dry_run else _store(job, chunk, verdicts)
            ImportRow.objects.bulk_create(
                _report_row(job, row, verdicts[row.number], stored.get(row.number)) for row in chunk
            )
            counts = Counter(verdict.outcome for verdict in verdicts.values())
            # The cursor moves with the rows it covers, only from where this run found it.
            if not ImportJob.objects.filter(pk=job.pk, cursor=start).update(
                cursor=end,
                rows_done=end,
                **{name: F(name) + counts[name] for name in ImportRowOutcome.values},
            ):
                raise ImportTakenOver(
                    f"Import #{job.pk} moved on past row {start} in another run; this run stops.",
                    errors={"cursor": [str(start)]},
                )
    except BaseException:
        seen.clear()
        seen.update(snapshot)
        raise
    job.cursor = end
    if stored:
        # The job's own worker runs its chunk now (a worker that got the message first
        # claims some of it instead; then they are settled at the end).
        transactions_process(ids=sorted(set(stored.values())))
        imports_settle(job=job, numbers=list(stored))
    figures_changed()


def _store(job: ImportJob, chunk: list[ReadRow], verdicts: dict[int, Verdict]) -> dict[int, int]:
    """Stores the rows that are not refused as transactions of the job's system through the
    inbound path; returns {row number: transaction id} of those this job stored."""
    events = []
    numbers = []
    for row in chunk:
        if verdicts[row.number].outcome == ImportRowOutcome.REFUSED:
            continue
        event = row.inbound
        marker = {"job": job.pk, "row": row.number, "push": job.push_downstream}
        events.append(replace(event, payload={"import": marker, "row": _plain(row.raw)}))
        numbers.append(row.number)
    if not events:
        return {}
    result = events_store(system=job.system, events=events)
    new = {tx.idempotency_key for tx in result.accepted}
    return {
        number: result.transaction_ids[event.idempotency_key]
        for number, event in zip(numbers, events, strict=True)
        if event.idempotency_key in new
    }


def _plain(raw: dict[str, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in raw.items()}


def _report_row(
    job: ImportJob, row: ReadRow, verdict: Verdict, transaction_id: int | None
) -> ImportRow:
    refused = verdict.outcome == ImportRowOutcome.REFUSED
    return ImportRow(
        job=job,
        number=row.number,
        business_key=row.key[:100],
        version=row.version,
        outcome=verdict.outcome,
        fields=verdict.fields,
        errors=verdict.errors,
        data=_plain(row.raw) if refused else None,
        transaction_id=transaction_id,
    )


def imports_settle(*, job: ImportJob, numbers: list[int] | None = None) -> int:
    """Brings the report of rows whose transaction has finished to what the flow did: a
    row the flow found it already held is ``unchanged``; one a business rule holds is
    ``blocked``, with the exception's words. Recounts the job. Returns rows changed."""
    rows = job.rows.filter(transaction__isnull=False).exclude(
        outcome__in=(ImportRowOutcome.REFUSED, ImportRowOutcome.BLOCKED)
    )
    if numbers is not None:
        rows = rows.filter(number__in=numbers)
    changed = []
    # Only the columns the verdict needs: the transactions' payloads are read for the few
    # rows a business rule held.
    found = rows.values_list(
        "pk", "outcome", "transaction_id", "transaction__state", "transaction__outcome"
    )
    for pk, predicted, tx_id, state, tx_outcome in found:
        outcome = _outcome_of(state, tx_outcome, predicted)
        if outcome != predicted:
            changed.append(ImportRow(pk=pk, outcome=outcome, transaction_id=tx_id))
    held = [row for row in changed if row.outcome == ImportRowOutcome.BLOCKED]
    for row in held:
        tx = Transaction.objects.only("state", "last_error", "payload").get(pk=row.transaction_id)
        row.errors = {"(flow)": [tx.last_error or tx.get_state_display()]}
        row.data = tx.payload.get("row") if isinstance(tx.payload, dict) else None
    ImportRow.objects.bulk_update([r for r in changed if r not in held], ["outcome"])
    ImportRow.objects.bulk_update(held, ["outcome", "errors", "data"])
    if changed or numbers is None:
        counts = dict(job.rows.values_list("outcome").annotate(n=Count("pk")).order_by())
        ImportJob.objects.filter(pk=job.pk).update(
            **{name: counts.get(name, 0) for name in ImportRowOutcome.values}
        )
    return len(changed)


def _outcome_of(state: str, tx_outcome: str, predicted: str) -> str:
    if state in (TransactionState.BLOCKED, TransactionState.DEAD):
        return ImportRowOutcome.BLOCKED
    if state != TransactionState.SUCCEEDED:
        return predicted  # still to run (a paused flow, a retry): the engine goes on with it
    if tx_outcome in (Outcome.UNCHANGED, Outcome.STALE):
        return ImportRowOutcome.UNCHANGED
    if predicted == ImportRowOutcome.UNCHANGED:
        return ImportRowOutcome.CHANGED
    return predicted


# --- reading a job's report ----------------------------------------------------------------


def import_refused_csv(*, job: ImportJob) -> Iterator[str]:
    """The refused and blocked rows as CSV: the row number, the row's columns as read,
    and ``reason`` (the errors by column)."""
    rows = list(
        job.rows.filter(outcome__in=(ImportRowOutcome.REFUSED, ImportRowOutcome.BLOCKED)).order_by(
            "number"
        )
    )
    columns: list[str] = []
    for row in rows:
        for column in row.data or {}:
            if column not in columns:
                columns.append(column)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["row", *columns, "reason"])
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        data = row.data or {}
        writer.writerow(
            [row.number, *(_csv_value(data.get(column)) for column in columns), row.reason]
        )
        yield buffer.getvalue()


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list | bool):
        return json.dumps(value)
    return str(value)
