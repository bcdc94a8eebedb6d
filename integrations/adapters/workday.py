"""Workday workers from a custom report served as a RaaS JSON web service.

Workday pushes nothing by itself: an integration (or the tower's poller) runs the
report, ``GET .../ccx/service/customreport2/<tenant>/<owner>/<report>?format=json``, and
posts the response as it came, signed with the tower's own ``X-CT-Signature``:
``{"Report_Entry": [{"Employee_ID": "21001", "Legal_Name": "Logan McNeil", ...}]}``.

Each entry becomes ``resource.upserted``. The report's columns use these aliases
(RaaS turns a column's alias into the JSON key):

=====================  =====================================  ============================
Report column          canonical ``data`` field               note
=====================  =====================================  ============================
``Employee_ID``        ``employee_number``, ``external_id``   business key
``Legal_Name``         ``name``                               else ``Worker`` (the
                                                              worker's descriptor)
``Email_Address``      ``email``                              primary work email, optional
``Job_Profile``        ``role``                               must match a rate card role
``Company``            ``legal_entity``                       the Company *reference ID*
                                                              (``US01``), not its name
``Active_Status``      ``active``                             RaaS renders booleans as
                                                              ``"1"`` / ``"0"``; true /
                                                              false and Active / Inactive
                                                              are read too
``Last_Updated``       ``occurred_at``, version               date-time of the last change
=====================  =====================================  ============================

Idempotency key ``<Employee_ID>:<Last_Updated>``; version: ``Last_Updated`` in epoch
milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from integrations.adapters.base import EventRejected, InboundEvent
from integrations.adapters.jsonbody import load
from integrations.adapters.vendor import (
    CANONICAL,
    Record,
    canonical_event,
    iso,
    present,
    read_records,
    require_object,
    version_of,
)

if TYPE_CHECKING:
    from integrations.models import ConnectedSystem

ACTIVE = {"1": True, "0": False, "true": True, "false": False, "active": True, "inactive": False}


def _active(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return ACTIVE.get(value.strip().lower())
    return None


class WorkdayAdapter:
    name = "workday"

    def verify(self, *, system: ConnectedSystem, headers: Mapping[str, str], body: bytes) -> None:
        CANONICAL.verify(system=system, headers=headers, body=body)

    def parse(self, *, body: bytes) -> list[InboundEvent]:
        document = load(body)
        if not isinstance(document, dict) or not isinstance(document.get("Report_Entry"), list):
            raise EventRejected(
                'Report_Entry: expected a RaaS JSON report, {"Report_Entry": [...]}.',
                errors={"Report_Entry": ["Must be an array of report entries."]},
            )
        records = [
            (f"Report_Entry[{index}]", entry)
            for index, entry in enumerate(document["Report_Entry"])
        ]
        return read_records(records, self._read)

    def validate_normalized(self, normalized: Any) -> InboundEvent:
        return CANONICAL.validate_normalized(normalized)

    def _read(self, record: Record) -> list[InboundEvent]:
        entry = require_object(record)
        employee_id = record.identifier(entry, "Employee_ID", "Employee_ID")
        updated_at = record.timestamp(entry, "Last_Updated", "Last_Updated")
        status = entry.get("Active_Status")
        active = _active(status)
        if present(status) and active is None:
            record.error("Active_Status", 'Must be "1" or "0" (or true/false, Active/Inactive).')
        record.check()
        if employee_id is None or updated_at is None:
            return []
        name_field = "Legal_Name" if present(entry.get("Legal_Name")) else "Worker"
        data: dict[str, Any] = {
            "employee_number": employee_id,
            "name": entry.get(name_field),
            "email": entry.get("Email_Address"),
            "role": entry.get("Job_Profile"),
            "legal_entity": entry.get("Company"),
            "active": active,
            "external_id": employee_id,
        }
        normalized = {
            "type": "resource.upserted",
            "id": f"{employee_id}:{entry['Last_Updated']}",
            "occurred_at": iso(updated_at),
            "version": version_of(updated_at),
            "data": {key: value for key, value in data.items() if present(value)},
        }
        sources = {
            "id": "Last_Updated",
            "version": "Last_Updated",
            "occurred_at": "Last_Updated",
            "data.employee_number": "Employee_ID",
            "data.external_id": "Employee_ID",
            "data.name": name_field,
            "data.email": "Email_Address",
            "data.role": "Job_Profile",
            "data.legal_entity": "Company",
            "data.active": "Active_Status",
        }
        return [canonical_event(record, normalized=normalized, sources=sources, payload=entry)]
