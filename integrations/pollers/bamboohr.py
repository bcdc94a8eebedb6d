"""BambooHR's employees, read from its change tracking: "Get Changed Employee IDs"
(documentation.bamboohr.com, ``GET <base URL>/v1/employees/changed/?since=<ISO 8601>``,
HTTP Basic with the API key as the user name, as every BambooHR call).

It answers, in one piece (no paging), each employee changed at or after ``since`` with
its latest change::

    {"latest": "2011-06-02T19:26:23+00:00",
     "employees": {"3": {"id": "3", "action": "Inserted",
                         "lastChanged": "2011-06-02T19:26:23+00:00"}, ...}}

Each entry becomes the BambooHR adapter's thin event (``BambooHRAdapter`` reads the
entry): the employee is read from "Get Employee" with the system's credentials when the
event runs, as for an event-based webhook; a ``Deleted`` one is recorded as ignored. The
idempotency key is ``<id>:<lastChanged>``: the same change read again in the overlap
window is one transaction, a later change of the employee a new one. Why a change that
also arrives by webhook may be a second transaction (but not a second change of the
resource) is in the adapter's docstring.

The poller's page size does not apply: BambooHR answers every change at once. A first run
(no cursor) asks for every change since 1970, which is every employee BambooHR has.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from integrations.adapters import InboundEvent
from integrations.adapters.bamboohr import BambooHRAdapter
from integrations.adapters.vendor import EPOCH, Record, read_records, require_object
from integrations.choices import Adapter, ErrorClass, ExceptionType, PollerRecordType, SystemKind
from integrations.clients.http import request
from integrations.errors import IntegrationError
from integrations.models import ConnectedSystem
from integrations.pollers.base import Page
from integrations.services.enrichment import vendor_error_message

_bamboohr = BambooHRAdapter()

CHANGED_PATH = "/v1/employees/changed/"


def _since(moment: datetime | None) -> str:
    # BambooHR takes whole seconds; a moment cut down to its second reads a little more.
    return (moment or EPOCH).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class BambooHRChangedEmployees:
    """A BambooHR system's workers, from the employees its change tracking lists."""

    system_kind = SystemKind.HRIS
    adapter = Adapter.BAMBOOHR
    record_type = PollerRecordType.WORKER

    def page(
        self, system: ConnectedSystem, *, since: datetime | None, offset: int, limit: int
    ) -> Page:
        if not system.base_url:
            raise IntegrationError(
                f"{system.name} has no base URL: its changed employees cannot be read. Set "
                "the system's base URL (its API gateway) and credentials.",
                transient=False,
                error_class=ErrorClass.CONFIGURATION,
                code=ExceptionType.SYSTEM_NOT_CONFIGURED,
                system=system,
            )
        url = system.base_url.rstrip("/") + CHANGED_PATH
        response = request(
            "GET",
            url,
            system=system,
            params={"since": _since(since)},
            vendor_message=vendor_error_message,
        )
        try:
            body = json.loads(response.content, parse_float=Decimal)
        except ValueError:
            body = None
        employees = body.get("employees") if isinstance(body, dict) else None
        if employees == []:  # no change at all may come as an empty array (PHP's empty map)
            employees = {}
        if not isinstance(employees, dict):
            raise IntegrationError.transient_failure(
                f"GET {url} answered without an employees object: {response.text[:200]}",
                system=system,
            )
        return Page(records=list(employees.values()), has_more=False)

    def changed_at(self, record: dict[str, Any]) -> datetime:
        entry = Record(record, "")
        moment = entry.timestamp(require_object(entry), "lastChanged", "lastChanged")
        entry.check()
        if moment is None:
            raise AssertionError("unreachable: check() refused the entry")
        return moment

    def event(self, record: dict[str, Any]) -> InboundEvent:
        [item] = read_records([("", record)], _bamboohr.read)
        # A thin event has no values for a mapping to judge: the system's own mapping reads
        # the employee once it is read, when the event runs.
        return _bamboohr.event(item, _bamboohr.default_mapping)


BAMBOOHR_WORKERS = BambooHRChangedEmployees()
