"""An ERP in the NetSuite REST style (``/services/rest/record/v1/<record>``).

Creates answer 204 with the new record's URL in ``Location``. The ERP does not
de-duplicate, so every create first looks the record up by its ``externalId``
(our business key): a create whose answer was lost is found, not made twice.
"""

from __future__ import annotations

from typing import Any

import httpx

from integrations.choices import ErrorClass, ExceptionType
from integrations.clients.http import request
from integrations.errors import IntegrationError
from integrations.models import ConnectedSystem

# A project's status as NetSuite's standard project (job) statuses name it, and back.
JOB_STATUS = {"planned": "Pending", "active": "In Progress", "closed": "Closed"}
JOB_STATUS_CANONICAL = {name: status for status, name in JOB_STATUS.items()}
# NetSuite REST answers a POST repeated with the same key (a UUID) with the first result.
IDEMPOTENCY_HEADER = "X-NetSuite-Idempotency-Key"


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

    def find(self, record: str, external_id: str) -> str | None:
        response = request(
            "GET",
            self._url(record),
            params={"q": f'externalId IS "{external_id}"'},
            system=self.system,
            vendor_message=netsuite_message,
        )
        items = response.json().get("items") or []
        return str(items[0]["id"]) if items else None

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

    def create(self, record: str, body: dict[str, Any], *, idempotency_key: str) -> str:
        response = request(
            "POST",
            self._url(record),
            json=body,
            idempotency_key=idempotency_key,
            idempotency_header=IDEMPOTENCY_HEADER,
            system=self.system,
            vendor_message=netsuite_message,
        )
        location = response.headers.get("Location", "")
        record_id = location.rstrip("/").rsplit("/", 1)[-1]
        if not record_id:
            raise IntegrationError.transient_failure(
                f"ERP created a {record} without a Location header.",
                outbound_status=response.status_code,
            )
        return record_id

    def ensure(self, record: str, body: dict[str, Any], *, idempotency_key: str) -> str:
        """The id of the record with ``body['externalId']``, created if the ERP has none."""
        return self.find(record, body["externalId"]) or self.create(
            record, body, idempotency_key=idempotency_key
        )

    def upsert(
        self, record: str, body: dict[str, Any], *, record_id: str | None, idempotency_key: str
    ) -> str:
        """Updates the record the tower already knows the id of, or ensures it exists."""
        if record_id:
            self.update(record, record_id, body, idempotency_key=idempotency_key)
            return record_id
        return self.ensure(record, body, idempotency_key=idempotency_key)

    def update(
        self, record: str, record_id: str, body: dict[str, Any], *, idempotency_key: str
    ) -> None:
        request(
            "PATCH",
            self._url(record, record_id),
            json=body,
            idempotency_key=idempotency_key,
            system=self.system,
            vendor_message=netsuite_message,
        )
