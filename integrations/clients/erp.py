"""An ERP in the NetSuite REST style (``/services/rest/record/v1/<record>``).

Records are created by NetSuite's upsert by external id (``PUT .../<record>/eid:<our
business key>``, 204 with the record's URL in ``Location``): the same call again, after
an answer lost in transit or a crash, finds the record the first one made instead of
making a second. A plain POST would not: NetSuite does not de-duplicate it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from integrations.choices import ErrorClass, ExceptionType
from integrations.clients.http import request
from integrations.clients.transport import match_only_var
from integrations.errors import IntegrationError
from integrations.models import ConnectedSystem

# A project's status as NetSuite's standard project (job) statuses name it, and back.
JOB_STATUS = {"planned": "Pending", "active": "In Progress", "closed": "Closed"}
JOB_STATUS_CANONICAL = {name: status for status, name in JOB_STATUS.items()}


def netsuite_message(response: httpx.Response) -> str:
    """The vendor's own words from NetSuite's error body."""
    try:
        body = response.json()
        details = body.get("o:errorDetails") or []
        if details:
            first = details[0]
            code = first.get("o:errorCode", "")
            path = first.get("o:errorPath", "")
            return f"{first.get('detail', '')} [{code}{' at ' + path if path else ''}]".strip()
        return str(body.get("title") or response.reason_phrase)
    except ValueError:
        return response.text[:200] or response.reason_phrase


class ErpClient:
    def __init__(self, system: ConnectedSystem) -> None:
        if not system.base_url:
            raise IntegrationError(
                f"System {system.slug!r} has no base URL.",
                transient=False,
                error_class=ErrorClass.CONFIGURATION,
                code=ExceptionType.SYSTEM_NOT_CONFIGURED,
            )
        self.system = system
        self.base = system.base_url.rstrip("/") + "/services/rest/record/v1"

    def _url(self, *parts: str) -> str:
        return "/".join([self.base, *parts])

    def list(self, record: str, *, page_size: int = 1000) -> list[dict[str, Any]]:
        """Every record of a kind, page by page."""
        items: list[dict[str, Any]] = []
        while True:
            body = request(
                "GET",
                self._url(record),
                params={"limit": str(page_size), "offset": str(len(items))},
                system=self.system,
                vendor_message=netsuite_message,
            ).json()
            items.extend(body.get("items") or [])
            if not body.get("hasMore"):
                return items

    def get(self, record: str, record_id: str) -> dict[str, Any]:
        return request(
            "GET",
            self._url(record, record_id),
            system=self.system,
            vendor_message=netsuite_message,
        ).json()

    def ensure(self, record: str, body: dict[str, Any]) -> str:
        """The id of the record with ``body['externalId']``, created if the ERP has none and
        brought to ``body`` if it has: NetSuite's upsert by external id (``PUT
        .../<record>/eid:<externalId>``). Sent again after a lost answer, it finds what the
        first one made instead of making a second."""
        response = request(
            "PUT",
            self._url(record, f"eid:{quote(str(body['externalId']), safe='')}"),
            json=body,
            system=self.system,
            vendor_message=netsuite_message,
        )
        location = response.headers.get("Location", "")
        record_id = location.rstrip("/").rsplit("/", 1)[-1]
        if not record_id or record_id.startswith("eid:"):
            raise IntegrationError.transient_failure(
                f"The ERP answered the upsert of {record} {body['externalId']} without the "
                "record's id in its Location header.",
                outbound_status=response.status_code,
                system=self.system,
            )
        return record_id

    def upsert(self, record: str, body: dict[str, Any], *, record_id: str | None) -> str:
        """Updates the record the tower already knows the id of, or ensures it exists.
        In match-only work (``match_only_var``) it only finds the record by its external id."""
        if match_only_var.get():
            return record_id or self.match(record, str(body["externalId"]))
        if record_id:
            self.update(record, record_id, body)
            return record_id
        return self.ensure(record, body)

    def match(self, record: str, external_id: str) -> str:
        """The ERP's id of the record it holds with ``external_id``; a business failure
        naming the record when it holds none (nothing is created)."""
        try:
            found = self.get(record, f"eid:{quote(external_id, safe='')}")
        except IntegrationError as exc:
            if exc.outbound_status != 404:
                raise
            raise IntegrationError.business(
                f"{self.system.name} holds no {record} with external id {external_id}, and this "
                "work runs with downstream pushes off, so it was not created there. Import it "
                "with pushes on, or create it in the ERP first.",
                code=ExceptionType.DOWNSTREAM_REJECTED,
                error_class=ErrorClass.DOWNSTREAM_REJECTION,
                details={"record": record, "external_id": external_id, "status": 404},
                system=self.system,
                outbound_status=404,
            ) from None
        return str(found.get("id") or found.get("internalId") or "")

    def update(self, record: str, record_id: str, body: dict[str, Any]) -> None:
        request(
            "PATCH",
            self._url(record, record_id),
            json=body,
            system=self.system,
            vendor_message=netsuite_message,
        )
