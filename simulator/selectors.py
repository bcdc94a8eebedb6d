"""Reads of the simulator's state, and records as each system's API shows them."""

from __future__ import annotations

import math
import operator
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import reduce
from typing import Any

from django.db.models import Q, QuerySet
from django.db.models.fields.json import KeyTransform
from django.utils import timezone

from simulator.choices import InvoiceStatus
from simulator.errors import SimulatorError
from simulator.models import DeletedRecord, SimulatedRecord, SimulatedRequest, SimulatedSystem

# NetSuite's query syntax, in the one form the simulator understands.
_EXTERNAL_ID_QUERY = re.compile(r'^\s*externalId\s+IS\s+(?:"([^"]*)"|(\S+))\s*$', re.IGNORECASE)

# NetSuite's prefix for an external id in a record URL, in place of the internal id.
EXTERNAL_ID_PREFIX = "eid:"

_LOST_PLUS = re.compile(r"(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$")


def record_get(*, system: SimulatedSystem, kind: str, record_id: str | int) -> SimulatedRecord:
    record = (
        SimulatedRecord.objects.filter(system=system, kind=kind, pk=record_id).first()
        if str(record_id).isdigit()
        else None
    )
    if record is None:
        raise SimulatorError(
            404,
            "NONEXISTENT_ID",
            f"The record instance does not exist. Provide a valid record instance ID "
            f"({kind} {record_id}).",
            rest_code="not_found",
        )
    return record


def erp_record_get(*, system: SimulatedSystem, kind: str, reference: str) -> SimulatedRecord:
    """The record a NetSuite URL names: by internal id, or ``eid:<externalId>``.

    Should plain POSTs have made several records with the external id, the first one.
    """
    if not reference.startswith(EXTERNAL_ID_PREFIX):
        return record_get(system=system, kind=kind, record_id=reference)
    external_id = reference.removeprefix(EXTERNAL_ID_PREFIX)
    record = (
        SimulatedRecord.objects.filter(system=system, kind=kind, external_id=external_id)
        .order_by("id")
        .first()
        if external_id
        else None
    )
    if record is None:
        raise SimulatorError(
            404,
            "NONEXISTENT_ID",
            f"The record instance does not exist. Provide a valid record instance ID "
            f"({kind} {reference}).",
            rest_code="not_found",
        )
    return record


def _spelled(value: str) -> list[Any]:
    """The JSON values a query-string value may stand for: itself as text, and the number
    or boolean it spells (``?hours=2`` finds ``"hours": 2`` as well as ``"hours": "2"``)."""
    values: list[Any] = [value]
    if value in ("true", "false"):
        values.append(value == "true")
        return values
    try:
        values.append(int(value))
    except ValueError:
        try:
            number = float(value)
        except ValueError:
            return values
        if math.isfinite(number):
            values.append(number)
    return values


def records_list(
    *,
    system: SimulatedSystem,
    kind: str,
    external_id: str | None = None,
    changed_since: datetime | None = None,
    fields: dict[str, str] | None = None,
) -> QuerySet[SimulatedRecord]:
    """The records of a kind, oldest first; ``fields`` are top-level fields each equal to
    its value (``{"code": "P-1042"}``), ``id`` being the record's own id."""
    records = SimulatedRecord.objects.filter(system=system, kind=kind)
    if external_id is not None:
        records = records.filter(external_id=external_id)
    if changed_since is not None:
        records = records.filter(updated_at__gte=changed_since)
    for index, (field, value) in enumerate((fields or {}).items()):
        if field == "id":
            records = records.filter(pk=value) if value.isdigit() else records.none()
            continue
        # KeyTransform names the key as data, never as a lookup: "?contains=x" is a field.
        alias = f"field_{index}"
        records = records.alias(**{alias: KeyTransform(field, "data")}).filter(
            reduce(operator.or_, (Q(**{alias: spelled}) for spelled in _spelled(value)))
        )
    return records.order_by("id")


def erp_query_external_id(query: str) -> str:
    """The external id in ``externalId IS "K-5001"``; anything else is refused."""
    match = _EXTERNAL_ID_QUERY.match(query)
    if not match:
        raise SimulatorError(
            400,
            "USER_ERROR",
            'Invalid query. The simulator understands only q=externalId IS "<value>".',
            field="q",
        )
    return match.group(1) if match.group(1) is not None else match.group(2)


def changed_since_parse(value: str, *, name: str = "changed_since") -> datetime:
    """An ISO 8601 date-time (naive means UTC) or date, given as the parameter ``name``."""
    # An unencoded "+01:00" in a query string arrives as " 01:00".
    text = _LOST_PLUS.sub(r"\1+\2", value.strip()).replace("Z", "+00:00").replace("z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise SimulatorError(
            400,
            "USER_ERROR",
            f"{name} must be an ISO 8601 date-time, e.g. 2026-11-02T09:30:00Z.",
            rest_code="invalid_parameter",
            field=name,
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _amount(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal(0)


def invoice_total(data: dict[str, Any]) -> Decimal:
    """Sum of ``item.items[].amount`` (``quantity * rate`` for a line without an amount)."""
    items = (data.get("item") or {}).get("items") if isinstance(data.get("item"), dict) else None
    total = Decimal(0)
    for line in items or []:
        if not isinstance(line, dict):
            continue
        if line.get("amount") is not None:
            total += _amount(line["amount"])
        else:
            total += _amount(line.get("quantity", 0)) * _amount(line.get("rate", 0))
    return total


def credited_total(
    *, system: SimulatedSystem, invoice_id: int, excluding: int | None = None
) -> Decimal:
    """What the credit memos created from the invoice credit together."""
    memos = SimulatedRecord.objects.filter(
        system=system, kind="creditMemo", data__createdFrom__id=str(invoice_id)
    )
    if excluding is not None:
        memos = memos.exclude(pk=excluding)
    return sum((invoice_total(memo.data) for memo in memos), Decimal(0))


def invoice_status(*, record: SimulatedRecord, pay_after_seconds: int) -> InvoiceStatus:
    """Open until ``pay_after_seconds`` have passed since creation (0 = never paid)."""
    patched = record.data.get("status")
    if isinstance(patched, dict) and patched.get("id") in InvoiceStatus.values:
        return InvoiceStatus(patched["id"])
    if pay_after_seconds and timezone.now() >= record.created_at + timedelta(
        seconds=pay_after_seconds
    ):
        return InvoiceStatus.PAID_IN_FULL
    return InvoiceStatus.OPEN


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def erp_record_json(record: SimulatedRecord, *, system: SimulatedSystem) -> dict[str, Any]:
    """A record as NetSuite's GET shows it."""
    body: dict[str, Any] = {
        **record.data,
        "id": str(record.pk),
        "createdDate": record.created_at.isoformat().replace("+00:00", "Z"),
        "lastModifiedDate": record.updated_at.isoformat().replace("+00:00", "Z"),
    }
    if record.kind == "invoice":
        status = invoice_status(record=record, pay_after_seconds=system.pay_after_seconds)
        total = invoice_total(record.data)
        body["status"] = {"id": status.value, "refName": status.label}
        body["total"] = _number(total)
        # What is still owed: nothing once paid; the total less its credit memos until then.
        credited = credited_total(system=system, invoice_id=record.pk)
        body["amountRemaining"] = (
            0 if status == InvoiceStatus.PAID_IN_FULL else _number(max(total - credited, 0))
        )
    elif record.kind == "creditMemo":
        body["total"] = _number(invoice_total(record.data))
    return body


def rest_record_json(record: SimulatedRecord) -> dict[str, Any]:
    """A record as the PSA, CRM and CLM APIs show it."""
    return {
        **record.data,
        "id": str(record.pk),
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
    }


# BambooHR's "Get a list of fields" (``/v1/meta/fields/``), the fields the HRIS holds.
BAMBOOHR_FIELDS: list[dict[str, Any]] = [
    {"id": 17, "name": "Employee #", "type": "text", "alias": "employeeNumber"},
    {"id": 1, "name": "First Name", "type": "text", "alias": "firstName"},
    {"id": 2, "name": "Last Name", "type": "text", "alias": "lastName"},
    {"id": 15, "name": "Work Email", "type": "email", "alias": "workEmail"},
    {"id": 6, "name": "Job Title", "type": "list", "alias": "jobTitle"},
    {"id": 4, "name": "Division", "type": "list", "alias": "division"},
    {"id": 12, "name": "Status", "type": "status", "alias": "status"},
]


def bamboohr_employee_json(record: SimulatedRecord, *, fields: str | None) -> dict[str, Any]:
    """An employee as BambooHR's ``GET /v1/employees/{id}/`` answers it: its ``id`` and the
    fields asked for by alias (``?fields=firstName,lastName``), null when it has no value;
    all its fields when none are asked for."""
    names = [name.strip() for name in (fields or "").split(",") if name.strip()]
    data = record.data
    values = {name: data.get(name) for name in names} if names else dict(data)
    return {"id": str(record.pk), **{k: v for k, v in values.items() if k != "id"}}


# Harvest's "Retrieve a company" (``GET /v2/company``), the simulated account's.
HARVEST_COMPANY = {
    "base_uri": "https://northwind.harvestapp.com",
    "full_domain": "northwind.harvestapp.com",
    "name": "Northwind Consulting",
    "is_active": True,
    "week_start_day": "Monday",
    "time_format": "hours_minutes",
    "plan_type": "simple-v4",
    "clock": "24h",
    "currency": "USD",
    "approval_feature": True,
}


def harvest_record_json(record: SimulatedRecord) -> dict[str, Any]:
    """A Harvest user or project as ``GET /v2/users/{id}`` or ``/v2/projects/{id}`` answers
    it: its integer ``id``, its fields as stored (``first_name``, ``email``; ``name``,
    ``code``) and the times Harvest gives every object."""
    return {
        **{key: value for key, value in record.data.items() if key != "id"},
        "id": record.pk,
        "created_at": _instant(record.created_at),
        "updated_at": _instant(record.updated_at),
    }


# BambooHR's change types, as "Get Changed Employee IDs" takes them in ``type``.
BAMBOOHR_CHANGE_TYPES = ("inserted", "updated", "deleted")


def _bamboohr_moment(moment: datetime) -> str:
    """A time as BambooHR's change tracking writes it: whole seconds, ``+00:00``."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def bamboohr_changed_json(
    *, system: SimulatedSystem, since: datetime, change_type: str | None = None
) -> dict[str, Any]:
    """BambooHR's "Get Changed Employee IDs" (``GET /v1/employees/changed/?since=``): each
    employee changed at or after ``since``, by id, with its last change: ``Inserted`` while
    it was never changed after it was created, ``Updated`` once it was, ``Deleted`` once it
    is gone; ``latest`` the latest of those times. ``change_type`` keeps one of them."""
    changes: list[tuple[datetime, int, str]] = []
    if change_type in (None, "inserted", "updated"):
        for record in records_list(system=system, kind="employee", changed_since=since):
            action = "Inserted" if record.updated_at == record.created_at else "Updated"
            if change_type in (None, action.lower()):
                changes.append((record.updated_at, record.pk, action))
    if change_type in (None, "deleted"):
        gone = DeletedRecord.objects.filter(system=system, kind="employee", deleted_at__gte=since)
        changes.extend((row.deleted_at, row.record_id, "Deleted") for row in gone)
    changes.sort()
    employees = {
        str(record_id): {
            "id": str(record_id),
            "action": action,
            "lastChanged": _bamboohr_moment(moment),
        }
        for moment, record_id, action in changes
    }
    latest = _bamboohr_moment(changes[-1][0]) if changes else None
    return {"latest": latest, "employees": employees}


# Salesforce: the sObjects the CRM serves over its REST API, by the record kind that holds
# them, with the key prefix of their ids (Opportunity 006, Account 001).
SALESFORCE_SOBJECTS = {"Opportunity": ("opportunity", "006"), "Account": ("account", "001")}
# The REST API versions it answers ("Versions": GET /services/data/), oldest first.
SALESFORCE_VERSIONS = [
    ("59.0", "Winter '24"),
    ("60.0", "Spring '24"),
    ("61.0", "Summer '24"),
    ("62.0", "Winter '25"),
]
# Fields Salesforce sets itself: a create or update naming one is refused.
SALESFORCE_READ_ONLY = {
    "Id",
    "attributes",
    "IsDeleted",
    "CreatedDate",
    "LastModifiedDate",
    "SystemModstamp",
}
_SUFFIX_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def _salesforce_suffix(short_id: str) -> str:
    """The three characters that make a 15-character id case-insensitively unique: per
    five characters, a bit for each capital letter."""
    suffix = ""
    for start in range(0, 15, 5):
        bits = sum(1 << i for i, char in enumerate(short_id[start : start + 5]) if char.isupper())
        suffix += _SUFFIX_CHARS[bits]
    return suffix


def salesforce_id(record: SimulatedRecord, sobject: str) -> str:
    """The record's 18-character Salesforce id: the sObject's key prefix and its number."""
    short = f"{SALESFORCE_SOBJECTS[sobject][1]}{record.pk:012d}"
    return short + _salesforce_suffix(short)


def salesforce_version_check(version: str) -> None:
    if version not in {number for number, _ in SALESFORCE_VERSIONS}:
        raise SimulatorError(404, "NOT_FOUND", "The requested resource does not exist")


def salesforce_sobject_check(sobject: str) -> str:
    """The record kind of ``sobject``; 404 ``NOT_FOUND`` for one the CRM does not serve."""
    if sobject not in SALESFORCE_SOBJECTS:
        raise SimulatorError(
            404, "NOT_FOUND", f"The requested resource does not exist (sObject type {sobject!r})"
        )
    return SALESFORCE_SOBJECTS[sobject][0]


def salesforce_record_get(
    *, system: SimulatedSystem, sobject: str, record_id: str
) -> SimulatedRecord:
    """The record a Salesforce id names (15 or 18 characters); 404 ``NOT_FOUND`` otherwise."""
    kind = salesforce_sobject_check(sobject)
    prefix = SALESFORCE_SOBJECTS[sobject][1]
    short = record_id[:15]
    number = short[3:]
    record = None
    if (
        len(record_id) in (15, 18)
        and short.startswith(prefix)
        and number.isdigit()
        and (len(record_id) == 15 or record_id[15:] == _salesforce_suffix(short))
    ):
        record = SimulatedRecord.objects.filter(system=system, kind=kind, pk=int(number)).first()
    if record is None:
        raise SimulatorError(
            404, "NOT_FOUND", "The requested resource does not exist", rest_code="not_found"
        )
    return record


def _salesforce_time(moment: datetime) -> str:
    """A date-time as Salesforce writes it: ``2026-11-02T09:30:00.000+0000``."""
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}+0000"


def salesforce_record_json(
    record: SimulatedRecord, *, sobject: str, version: str, fields: str | None = None
) -> dict[str, Any]:
    """A record as the REST API's sObject Rows resource answers it: ``attributes`` (type
    and URL), ``Id``, its fields by their API names and the system fields; with
    ``?fields=Name,StageName`` those fields only (null when the record has no value)."""
    record_id = salesforce_id(record, sobject)
    values = {
        **record.data,
        "IsDeleted": False,
        "CreatedDate": _salesforce_time(record.created_at),
        "LastModifiedDate": _salesforce_time(record.updated_at),
        "SystemModstamp": _salesforce_time(record.updated_at),
    }
    names = [name.strip() for name in (fields or "").split(",") if name.strip()]
    if names:
        values = {name: values.get(name) for name in names if name != "Id"}
    return {
        "attributes": {
            "type": sobject,
            "url": f"/services/data/v{version}/sobjects/{sobject}/{record_id}",
        },
        "Id": record_id,
        **values,
    }


def requests_list(
    *, system: SimulatedSystem, since: datetime | None = None, method: str | None = None
) -> QuerySet[SimulatedRequest]:
    """The system's request log, oldest first, from ``since`` on, of one ``method``."""
    calls = SimulatedRequest.objects.filter(system=system)
    if since is not None:
        calls = calls.filter(received_at__gte=since)
    if method:
        calls = calls.filter(method=method.upper())
    return calls.order_by("id")


def _instant(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def request_json(call: SimulatedRequest) -> dict[str, Any]:
    """One row of the request log as ``_requests`` shows it."""
    return {
        "id": call.pk,
        "method": call.method,
        "path": call.path,
        "query": call.query,
        "idempotency_key": call.idempotency_key,
        "status": call.status,
        "received_at": _instant(call.received_at),
        "admitted_at": _instant(call.admitted_at),
    }
