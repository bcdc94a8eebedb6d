"""Workday workers from a custom report served as a RaaS JSON web service.

Workday pushes nothing by itself: an integration (or the tower's poller) runs the
report, ``GET .../ccx/service/customreport2/<tenant>/<owner>/<report>?format=json``, and
posts the response as it came, signed with the tower's own ``X-CT-Signature``:
``{"Report_Entry": [{"Employee_ID": "21001", "Legal_Name": "Logan McNeil", ...}]}``.

Each entry becomes ``resource.upserted``. The envelope is ``Employee_ID`` (the
worker's id, ``external_id``) and ``Last_Updated`` (the time of the last change, the
version); the mapping reads the rest of the report's columns, whose aliases each tenant
chooses (RaaS turns a column's alias into the JSON key). ``DEFAULT`` reads
``Employee_ID`` (``employee_number``), ``Legal_Name`` else ``Worker`` (``name``),
``Email_Address``, ``Job_Profile`` (``role``, matching a rate card role), ``Company``
(``legal_entity``: the Company *reference ID* such as ``US01``, not its name) and
``Active_Status`` (``active``: RaaS renders booleans as ``"1"`` / ``"0"``)
(doc.workday.com, "Reports as a Service").

Idempotency key ``<Employee_ID>:<Last_Updated>``; version: ``Last_Updated`` in epoch
milliseconds.
"""

from __future__ import annotations

from typing import Any

from integrations.adapters.base import EventRejected
from integrations.adapters.vendor import (
    Record,
    VendorAdapter,
    VendorRecord,
    require_object,
    version_of,
)

DEFAULT = {
    "fields": [
        {"field": "employee_number", "source": "Employee_ID", "transform": "text"},
        {"field": "name", "source": ["Legal_Name", "Worker"]},
        {"field": "email", "source": "Email_Address"},
        {"field": "role", "source": "Job_Profile"},
        {"field": "legal_entity", "source": "Company"},
        {"field": "active", "source": "Active_Status", "transform": "boolean"},
    ]
}


class WorkdayAdapter(VendorAdapter):
    name = "workday"
    defaults = {"resource": DEFAULT}

    def records(self, document: Any) -> list[tuple[str, Any]]:
        if not isinstance(document, dict) or not isinstance(document.get("Report_Entry"), list):
            raise EventRejected(
                'Report_Entry: expected a RaaS JSON report, {"Report_Entry": [...]}.',
                errors={"Report_Entry": ["Must be an array of report entries."]},
            )
        return [
            (f"Report_Entry[{index}]", entry)
            for index, entry in enumerate(document["Report_Entry"])
        ]

    def read(self, record: Record) -> list[VendorRecord]:
        entry = require_object(record)
        employee_id = record.identifier(entry, "Employee_ID", "Employee_ID")
        updated_at = record.timestamp(entry, "Last_Updated", "Last_Updated")
        record.check()
        if employee_id is None or updated_at is None:
            return []  # unreachable: check() refused the record
        return [
            VendorRecord(
                record_type="resource",
                record=record,
                key=f"{employee_id}:{entry['Last_Updated']}",
                occurred_at=updated_at,
                version=version_of(updated_at),
                external_id=employee_id,
                payload=entry,
                fixed={"external_id": employee_id},
                fixed_sources={"data.external_id": "Employee_ID"},
            )
        ]
