"""A PSA REST API (``/api/v1/<resource>``): creates answer 201 with the record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from integrations.choices import ErrorClass, ExceptionType
from integrations.clients.http import request
from integrations.clients.transport import match_only_var
from integrations.errors import IntegrationError
from integrations.models import ConnectedSystem


def psa_message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error") or {}
        return f"{error.get('message', '')} [{error.get('code', '')}]".strip()
    except (ValueError, AttributeError):
        return response.text[:200] or response.reason_phrase


class PsaClient:
    def __init__(self, system: ConnectedSystem) -> None:
        if not system.base_url:
            raise IntegrationError(
                f"System {system.slug!r} has no base URL.",
                transient=False,
                error_class=ErrorClass.CONFIGURATION,
                code=ExceptionType.SYSTEM_NOT_CONFIGURED,
            )
        self.system = system
        self.base = system.base_url.rstrip("/") + "/api/v1"

    def find(self, resource: str, *, field: str, value: str) -> dict[str, Any] | None:
        response = request(
            "GET",
            f"{self.base}/{resource}",
            params={field: value},
            system=self.system,
            vendor_message=psa_message,
        )
        body = response.json()
        items = body.get("results", body) if isinstance(body, dict) else body
        return next((item for item in items if str(item.get(field)) == value), None)

    def match(self, resource: str, *, field: str, value: str) -> str:
        """The PSA's id of the record it holds with ``field`` = ``value``; a business failure
        naming the record when it holds none (nothing is created)."""
        found = self.find(resource, field=field, value=value)
        if found is None:
            raise IntegrationError.business(
                f"{self.system.name} holds no {resource} with {field} {value}, and this work "
                "runs with downstream pushes off, so it was not created there. Import it with "
                "pushes on, or create it in the PSA first.",
                code=ExceptionType.DOWNSTREAM_REJECTED,
                error_class=ErrorClass.DOWNSTREAM_REJECTION,
                details={"record": resource, field: value, "status": 404},
                system=self.system,
            )
        return str(found["id"])

    def changed(
        self, resource: str, *, since: datetime | None, offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """One page of the records changed at or after ``since`` (all of them when None),
        oldest first; and whether there are more."""
        params = {"offset": str(offset), "limit": str(limit)}
        if since is not None:
            params["changed_since"] = since.isoformat()
        body = request(
            "GET",
            f"{self.base}/{resource}",
            params=params,
            system=self.system,
            vendor_message=psa_message,
        ).json()
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            raise IntegrationError.transient_failure(
                f"GET {self.base}/{resource} answered a list without results.", system=self.system
            )
        return body["results"], bool(body.get("next"))

    def create(
        self, resource: str, body: dict[str, Any], *, idempotency_key: str
    ) -> dict[str, Any]:
        return request(
            "POST",
            f"{self.base}/{resource}",
            json=body,
            idempotency_key=idempotency_key,
            system=self.system,
            vendor_message=psa_message,
        ).json()

    def ensure(
        self, resource: str, body: dict[str, Any], *, key_field: str, idempotency_key: str
    ) -> str:
        found = self.find(resource, field=key_field, value=str(body[key_field]))
        record = found or self.create(resource, body, idempotency_key=idempotency_key)
        return str(record["id"])

    def update(self, resource: str, record_id: str, body: dict[str, Any]) -> None:
        request(
            "PATCH",
            f"{self.base}/{resource}/{record_id}",
            json=body,
            system=self.system,
            vendor_message=psa_message,
        )

    def upsert(
        self,
        resource: str,
        body: dict[str, Any],
        *,
        record_id: str | None,
        key_field: str,
        idempotency_key: str,
    ) -> str:
        """Updates the record the tower knows the id of, or ensures it exists. In match-only
        work (``match_only_var``) it only finds the record by ``key_field``."""
        if match_only_var.get():
            return record_id or self.match(resource, field=key_field, value=str(body[key_field]))
        if record_id:
            self.update(resource, record_id, body)
            return record_id
        return self.ensure(resource, body, key_field=key_field, idempotency_key=idempotency_key)
