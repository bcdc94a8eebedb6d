"""Writes of the simulated systems: records, fault knobs, and events sent to the tower.

Each system keeps its own records; nothing here touches the tower's tables. The
knobs are applied to every simulated API call by ``admission.call_admit``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from simulator.choices import ERP_KINDS, ERP_SLUGS, SimulatedSystemSlug
from simulator.demo_firm import erp_code_records, hris_employees
from simulator.errors import SimulatorError
from simulator.faults import knob_defaults, knobs_validate, reject_rule_matching
from simulator.locking import row_claim
from simulator.models import DeletedRecord, ExternalIdClaim, SimulatedRecord, SimulatedSystem
from simulator.selectors import SALESFORCE_READ_ONLY, credited_total, invoice_total
from simulator.signing import SIGNATURE_HEADER, signature_header

TOWER_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
INBOUND_PATH = "/api/v1/inbound/{system}/"

# Fields an ERP record type refers to other records by: {"id": ...} or {"externalId": ...}.
ERP_REFERENCES: dict[str, dict[str, str]] = {
    "customer": {"parent": "customer", "terms": "term"},
    "job": {"customer": "customer"},
    "projectCostForecast": {"job": "job"},
    "invoice": {"entity": "customer", "job": "job", "terms": "term"},
    "creditMemo": {"entity": "customer", "createdFrom": "invoice"},
    "revenuePlan": {"job": "job"},
}
# Fields a system assigns itself; a value sent by the caller is ignored.
ERP_ASSIGNED = {"id", "createdDate", "lastModifiedDate", "links"}
ERP_INVOICE_ASSIGNED = {"tranId", "status", "total", "amountRemaining"}
REST_ASSIGNED = {"id", "created_at", "updated_at"}
EXTERNAL_ID_MAX_LENGTH = 200


def simulator_enabled() -> bool:
    """The simulator serves only where it is wanted: the demo and the tests by default.

    Its endpoints demand no credentials by default (the ``auth`` knob; they are meant
    for loopback), its control endpoints never do, and ``_emit`` signs whatever it is
    given, so a production tower must not expose them.
    """
    return settings.CT_SIMULATOR_ENABLED


def system_get(*, slug: str) -> SimulatedSystem:
    """The system's row, created with default knobs on first use (the HRIS with the demo
    firm's employees; ``_reset`` leaves it empty)."""
    with transaction.atomic():
        system, created = SimulatedSystem.objects.get_or_create(
            slug=slug, defaults=knob_defaults(slug)
        )
        if created and slug == SimulatedSystemSlug.HRIS:
            # Created and last changed at one moment: "Inserted" in the changed-employees list.
            now = timezone.now()
            SimulatedRecord.objects.bulk_create(
                SimulatedRecord(
                    system=system, kind="employee", data=fields, created_at=now, updated_at=now
                )
                for fields in hris_employees()
            )
    return system


def erp_codes_seed(*, system: SimulatedSystem) -> int:
    """Gives an ERP instance the payment terms (``term``) and tax codes (``salesTaxItem``)
    the demo firm's subsidiaries accept, those it lacks; answers how many it added."""
    have = {
        (record.kind, record.external_id, str((record.data.get("subsidiary") or {}).get("id")))
        for record in SimulatedRecord.objects.filter(
            system=system, kind__in=("term", "salesTaxItem")
        )
    }
    now = timezone.now()
    missing = [
        SimulatedRecord(
            system=system,
            kind=kind,
            external_id=str(fields["externalId"]),
            data=fields,
            created_at=now,
            updated_at=now,
        )
        for kind, fields in erp_code_records()
        if (kind, str(fields["externalId"]), str(fields["subsidiary"]["id"])) not in have
    ]
    SimulatedRecord.objects.bulk_create(missing)
    return len(missing)


def system_faults_update(*, system: SimulatedSystem, payload: Any) -> SimulatedSystem:
    """Sets the knobs ``payload`` names; the others keep their value. ``KnobsInvalid`` if bad."""
    knobs = knobs_validate(system=system.slug, payload=payload)
    for name, value in knobs.items():
        setattr(system, name, value)
    system.save(update_fields=[*knobs, "updated_at"])
    return system


@transaction.atomic
def system_reset(*, system: SimulatedSystem) -> int:
    """Deletes the system's records, request log, idempotency keys and access tokens, and
    puts its knobs back to the defaults.

    Answers how many records were deleted (the ids kept of deleted ones go too)."""
    deleted, _ = system.records.all().delete()
    system.deleted_records.all().delete()
    system.requests.all().delete()
    system.external_id_claims.all().delete()
    system.idempotency_keys.all().delete()
    system.access_tokens.all().delete()
    for name, value in knob_defaults(system.slug).items():
        setattr(system, name, value)
    system.save()
    return deleted


def _body_check(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise SimulatorError(
            400, "USER_ERROR", "The request body must be a JSON object.", rest_code="invalid_body"
        )
    return dict(data)


def _reject_check(*, system: SimulatedSystem, kind: str, data: dict[str, Any]) -> None:
    rule = reject_rule_matching(rules=system.reject, kind=kind, data=data)
    if rule is not None:
        field = str(rule["field"])
        raise SimulatorError(
            400,
            "INVALID_FLD_VALUE",
            rule.get("message") or f"Invalid field value for {field}.",
            field=field,
            rest_code="invalid_field_value",
        )


def erp_kind_check(kind: str) -> None:
    if kind not in ERP_KINDS:
        raise SimulatorError(
            404,
            "INVALID_RCRD_TYPE",
            f"Record type '{kind}' does not exist here; the simulator serves: "
            f"{', '.join(ERP_KINDS)}.",
            rest_code="not_found",
        )


def _erp_references_resolve(
    *, system: SimulatedSystem, kind: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Checks ``{"id"}`` references exist; fills the id of a known ``{"externalId"}``.

    An ``externalId`` that matches nothing is kept as sent: the tower need not mirror
    every customer into the ERP before it creates a project for one.
    """
    for field, target in ERP_REFERENCES.get(kind, {}).items():
        ref = data.get(field)
        if ref is None:
            continue
        if not isinstance(ref, dict):
            raise SimulatorError(
                400,
                "INVALID_KEY_OR_REF",
                f'Invalid {field} reference: send {{"id": ...}} or {{"externalId": ...}}.',
                field=field,
            )
        if ref.get("id") not in (None, ""):
            ref_id = str(ref["id"])
            if not (
                ref_id.isdigit()
                and SimulatedRecord.objects.filter(system=system, kind=target, pk=ref_id).exists()
            ):
                raise SimulatorError(
                    400,
                    "INVALID_KEY_OR_REF",
                    f"Invalid {field} reference key {ref_id}.",
                    field=field,
                )
            data[field] = {**ref, "id": ref_id}
        elif ref.get("externalId"):
            match = (
                SimulatedRecord.objects.filter(
                    system=system, kind=target, external_id=str(ref["externalId"])
                )
                .order_by("id")
                .first()
            )
            if match is not None:
                data[field] = {**ref, "id": str(match.pk)}
    return data


def _erp_code_matches(*, system: SimulatedSystem, kind: str, subsidiary: str, ref: Any) -> bool:
    """Whether ``ref`` names an active ``kind`` record (``term``, ``salesTaxItem``) of the
    subsidiary; a subsidiary with no record of the kind keeps no list and takes any."""
    listed = [
        record
        for record in SimulatedRecord.objects.filter(system=system, kind=kind)
        if str((record.data.get("subsidiary") or {}).get("id", "")).upper() == subsidiary
    ]
    if not listed:
        return True
    if not isinstance(ref, dict):
        return False
    return any(
        not record.data.get("isInactive")
        and (
            (ref.get("id") not in (None, "") and str(ref["id"]) == str(record.pk))
            or (ref.get("externalId") and str(ref["externalId"]) == record.external_id)
        )
        for record in listed
    )


def _erp_invoice_codes_check(*, system: SimulatedSystem, data: dict[str, Any]) -> None:
    """NetSuite's own check of an invoice's payment terms and its lines' tax codes against
    what the subsidiary accepts: a 400 naming the field at fault."""
    subsidiary = data.get("subsidiary") or {}
    code = str(subsidiary.get("id", "")).upper() if isinstance(subsidiary, dict) else ""
    if "terms" in data and not _erp_code_matches(
        system=system, kind="term", subsidiary=code, ref=data["terms"]
    ):
        raise SimulatorError(
            400,
            "INVALID_KEY_OR_REF",
            f"Invalid terms reference key {_ref_words(data['terms'])} for subsidiary {code}.",
            field="terms",
        )
    lines = (data.get("item") or {}).get("items") or []
    for index, line in enumerate(lines if isinstance(lines, list) else []):
        if isinstance(line, dict) and "taxCode" in line:
            if not _erp_code_matches(
                system=system, kind="salesTaxItem", subsidiary=code, ref=line["taxCode"]
            ):
                raise SimulatorError(
                    400,
                    "INVALID_KEY_OR_REF",
                    f"Invalid taxCode reference key {_ref_words(line['taxCode'])} "
                    f"for subsidiary {code}.",
                    field=f"item.items[{index}].taxCode",
                )


def _erp_credit_memo_check(
    *, system: SimulatedSystem, data: dict[str, Any], excluding: int | None = None
) -> None:
    """NetSuite's checks of a credit memo created from an invoice: the invoice exists, the
    memo credits the invoice's own customer, every line credits a positive amount, and all
    the memos from the invoice together credit no more than it billed (400 naming the field)."""
    source = data.get("createdFrom")
    if not isinstance(source, dict) or not source.get("id"):
        raise SimulatorError(
            400,
            "USER_ERROR",
            "Please enter value(s) for: Created From (the invoice this credit memo credits).",
            field="createdFrom",
        )
    invoice = SimulatedRecord.objects.filter(system=system, kind="invoice", pk=source["id"]).first()
    if invoice is None:
        raise SimulatorError(
            400,
            "INVALID_KEY_OR_REF",
            f"Invalid createdFrom reference key {_ref_words(source)}.",
            field="createdFrom",
        )
    entity = data.get("entity") or {}
    invoice_entity = (invoice.data.get("entity") or {}).get("id")
    if not isinstance(entity, dict) or str(entity.get("id", "")) != str(invoice_entity):
        raise SimulatorError(
            400,
            "INVALID_KEY_OR_REF",
            f"The credit memo's customer {_ref_words(entity)} is not the customer of invoice "
            f"{invoice.data.get('tranId', invoice.pk)}.",
            field="entity",
        )
    lines = (data.get("item") or {}).get("items") if isinstance(data.get("item"), dict) else None
    if not lines:
        raise SimulatorError(
            400, "USER_ERROR", "You must enter at least one line item.", field="item"
        )
    for index, line in enumerate(lines):
        if not isinstance(line, dict) or invoice_total({"item": {"items": [line]}}) <= 0:
            raise SimulatorError(
                400,
                "INVALID_FLD_VALUE",
                "A credit memo line must credit a positive amount.",
                field=f"item.items[{index}].amount",
            )
    credited = credited_total(system=system, invoice_id=invoice.pk, excluding=excluding)
    billed = invoice_total(invoice.data)
    if credited + invoice_total(data) > billed:
        raise SimulatorError(
            400,
            "INVALID_FLD_VALUE",
            f"The credit memos of invoice {invoice.data.get('tranId', invoice.pk)} would credit "
            f"{credited + invoice_total(data)}, more than its total of {billed}.",
            field="item",
        )


def _ref_words(ref: Any) -> str:
    if isinstance(ref, dict):
        return str(ref.get("externalId") or ref.get("id") or "")
    return str(ref)


def _external_id_of(system: SimulatedSystem, data: dict[str, Any]) -> str | None:
    key = "externalId" if system.slug in ERP_SLUGS else "external_id"
    if key not in data:
        return None
    return "" if data[key] is None else str(data[key])[:EXTERNAL_ID_MAX_LENGTH]


def _writable(
    system: SimulatedSystem, kind: str, data: dict[str, Any], *, creating: bool
) -> dict[str, Any]:
    if system.slug in ERP_SLUGS:
        assigned = ERP_ASSIGNED | (ERP_INVOICE_ASSIGNED if kind == "invoice" else set())
        if not creating:
            # An update may set the invoice status, to mark it paid by hand.
            assigned = assigned - {"status"}
    else:
        assigned = REST_ASSIGNED
    return {key: value for key, value in data.items() if key not in assigned}


def record_create(
    *, system: SimulatedSystem, kind: str, data: Any, idempotency_key: str = ""
) -> SimulatedRecord:
    """Stores a new record. Never de-duplicates: the same body twice is two records.

    ``idempotency_key`` is kept on the record for inspection; the ERP's replay of a
    repeated key is ``idempotency.answer_once``, around this."""
    data = _writable(system, kind, _body_check(data), creating=True)
    _reject_check(system=system, kind=kind, data=data)
    if system.slug in ERP_SLUGS:
        data = _erp_references_resolve(system=system, kind=kind, data=data)
        if kind == "invoice":
            _erp_invoice_codes_check(system=system, data=data)
        if kind == "creditMemo":
            _erp_credit_memo_check(system=system, data=data)
    now = timezone.now()
    with transaction.atomic():
        record = SimulatedRecord.objects.create(
            system=system,
            kind=kind,
            external_id=_external_id_of(system, data) or "",
            idempotency_key=idempotency_key[:200],
            data=data,
            created_at=now,
            updated_at=now,
        )
        if kind == "invoice" and system.slug in ERP_SLUGS:
            record.data["tranId"] = f"INV{10000 + record.pk}"
            record.save(update_fields=["data"])
        if kind == "creditMemo" and system.slug in ERP_SLUGS:
            record.data["tranId"] = f"CM{10000 + record.pk}"
            record.save(update_fields=["data"])
    return record


def record_update(*, record: SimulatedRecord, changes: Any) -> SimulatedRecord:
    """Merges the fields sent into the record (top level; a nested object is replaced)."""
    system = record.system
    changes = _writable(system, record.kind, _body_check(changes), creating=False)
    _reject_check(system=system, kind=record.kind, data=changes)
    if system.slug in ERP_SLUGS:
        changes = _erp_references_resolve(system=system, kind=record.kind, data=changes)
        if record.kind == "invoice" and changes.keys() & {"terms", "item", "subsidiary"}:
            _erp_invoice_codes_check(system=system, data={**record.data, **changes})
        if record.kind == "creditMemo" and changes.keys() & {"item", "createdFrom", "entity"}:
            _erp_credit_memo_check(
                system=system, data={**record.data, **changes}, excluding=record.pk
            )
    record.data = {**record.data, **changes}
    external_id = _external_id_of(system, changes)
    if external_id is not None:
        record.external_id = external_id
    record.updated_at = timezone.now()
    record.save(update_fields=["data", "external_id", "updated_at"])
    return record


def record_upsert(
    *, system: SimulatedSystem, kind: str, external_id: str, data: Any
) -> tuple[SimulatedRecord, bool]:
    """NetSuite's upsert by external id: the record of ``kind`` with ``external_id`` gets the
    fields sent merged in (as a PATCH would), or is created with them when there is none.

    Answers the record and whether it was created. Two upserts of the same external id
    at once make one record: they take turns on an ``ExternalIdClaim``. Should plain POSTs have made several
    records with the external id, the first of them is the one updated.
    """
    data = _body_check(data)
    if not external_id or len(external_id) > EXTERNAL_ID_MAX_LENGTH:
        raise SimulatorError(
            400,
            "USER_ERROR",
            f"The external id in the URL must have 1 to {EXTERNAL_ID_MAX_LENGTH} characters.",
            field="externalId",
        )
    sent = data.get("externalId")
    if sent not in (None, "") and str(sent) != external_id:
        raise SimulatorError(
            400,
            "USER_ERROR",
            f"The externalId in the body ({sent}) is not the one in the URL ({external_id}).",
            field="externalId",
        )
    # The URL names the record: the body cannot take its external id away.
    data.pop("externalId", None)
    with transaction.atomic():
        row_claim(ExternalIdClaim, system=system, kind=kind, external_id=external_id)
        record = (
            SimulatedRecord.objects.filter(system=system, kind=kind, external_id=external_id)
            .order_by("id")
            .first()
        )
        if record is None:
            created = record_create(
                system=system, kind=kind, data={**data, "externalId": external_id}
            )
            return created, True
        return record_update(record=record, changes=data), False


def salesforce_fields_check(data: Any) -> dict[str, Any]:
    """The fields of a Salesforce create or update; one Salesforce sets itself is refused as
    Salesforce refuses it (400 ``INVALID_FIELD_FOR_INSERT_UPDATE``)."""
    data = _body_check(data)
    read_only = sorted(set(data) & SALESFORCE_READ_ONLY)
    if read_only:
        raise SimulatorError(
            400,
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            f"Unable to create/update fields: {', '.join(read_only)}. Please check the "
            "security settings of this field and verify that it is read/write for your "
            "profile or permission set.",
            field=read_only[0],
        )
    return data


def record_delete(*, record: SimulatedRecord) -> None:
    """Deletes the record and keeps its id and the moment (``DeletedRecord``), as BambooHR
    remembers a deleted employee for its changed-employees list."""
    with transaction.atomic():
        DeletedRecord.objects.create(system=record.system, kind=record.kind, record_id=record.pk)
        record.delete()


def system_secret(slug: str) -> str:
    """The signing secret a system uses: ``CT_SECRET_<SLUG>`` (the first while rotating)."""
    raw = os.environ.get(f"CT_SECRET_{slug.upper().replace('-', '_')}", "")
    secrets = [item.strip() for item in raw.split(",") if item.strip()]
    return secrets[0] if secrets else f"demo-{slug}-secret"


def tower_url_default() -> str:
    return settings.CT_TOWER_URL


def events_send(
    *,
    system_slug: str,
    events: list[dict[str, Any]],
    tower_url: str | None = None,
    client: httpx.Client | None = None,
) -> httpx.Response:
    """Posts ``events`` as one signed JSON array to the tower's inbound API."""
    body = json.dumps(events, separators=(",", ":")).encode()
    url = (tower_url or tower_url_default()).rstrip("/") + INBOUND_PATH.format(system=system_slug)
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature_header(secret=system_secret(system_slug), body=body),
    }
    if client is not None:
        return client.post(url, content=body, headers=headers)
    with httpx.Client(timeout=TOWER_TIMEOUT) as own_client:
        return own_client.post(url, content=body, headers=headers)


def events_emit(*, system: str, payload: Any) -> httpx.Response:
    """``_emit``: sends ``payload["events"]`` to the tower as ``system`` would."""
    if not isinstance(payload, dict):
        raise SimulatorError(400, "USER_ERROR", "The body must be a JSON object.", field="(body)")
    events = payload.get("events")
    if not isinstance(events, list) or not events:
        raise SimulatorError(
            400, "USER_ERROR", "events must be a non-empty list of events.", field="events"
        )
    tower_url = payload.get("tower_url")
    if tower_url is not None and (
        not isinstance(tower_url, str) or not tower_url.startswith(("http://", "https://"))
    ):
        raise SimulatorError(
            400, "USER_ERROR", "tower_url must be an http(s) URL.", field="tower_url"
        )
    try:
        return events_send(system_slug=system, events=events, tower_url=tower_url)
    except httpx.HTTPError as exc:
        raise SimulatorError(
            502, "TOWER_UNREACHABLE", f"The tower did not answer: {exc!r}", rest_code="bad_gateway"
        ) from exc
