"""Reading the record a thin event only names, from the sending system's API.

Some vendors send events that carry ids and no values (a BambooHR event-based webhook, a
Salesforce change event with only the changed fields). Such a transaction is stored with
``fetch`` set (the vendor's id of the record); when it runs, the tower calls the system
with its own credentials, through the same door as every outbound call (breaker, rate
limit, retries with backoff, 401/403 held as ``authentication_failed``), keeps what it
read in the transaction's payload (the diff and the audit show it) and maps it with the
system's mapping. A record the system no longer has (404) leaves nothing to do: the
transaction is ignored, saying so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx

from integrations.adapters.vendor import plain
from integrations.choices import ErrorClass, ExceptionType
from integrations.clients.http import request
from integrations.errors import IntegrationError
from integrations.models import Transaction
from integrations.services.mappings import vendor_adapter

if TYPE_CHECKING:
    from integrations.models import ConnectedSystem


@dataclass(frozen=True)
class Enriched:
    """A thin transaction after its record was read: ignored (the record is gone), or
    holding the record in its payload, ready to be mapped."""

    ignored: str = ""


def vendor_error_message(response: httpx.Response) -> str:
    """The vendor's own words from an error answer, whatever its error shape."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]  # Salesforce: [{"errorCode": "NOT_FOUND", "message": "..."}]
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:200]
        if body.get("message"):
            return str(body["message"])[:200]
        if body.get("error_description"):  # OAuth 2.0 and Harvest: {"error", "error_description"}
            return str(body["error_description"])[:200]
    return response.text[:200] or response.reason_phrase


def record_read(
    system: ConnectedSystem, path: str, *, params: dict[str, str] | None = None
) -> dict[str, Any] | None:
    """The record at ``path`` on ``system``'s base URL, read with the system's credentials
    through the door every outbound call takes; None when the system answers 404. Raises a
    classified ``IntegrationError`` when the call fails or the answer is no JSON object."""
    url = system_url(system, path)
    try:
        response = request(
            "GET", url, system=system, params=params or None, vendor_message=vendor_error_message
        )
    except IntegrationError as failure:
        if failure.outbound_status == 404:
            return None
        raise
    try:
        fetched = json.loads(response.content, parse_float=Decimal)
    except ValueError:
        fetched = None
    if not isinstance(fetched, dict):
        raise IntegrationError.business(
            f"GET {url} answered {response.status_code} without a JSON object: "
            f"{response.text[:200]}",
            code=ExceptionType.DOWNSTREAM_REJECTED,
            error_class=ErrorClass.DOWNSTREAM_REJECTION,
            details={"status": response.status_code, "url": url},
            system=system,
        )
    return fetched


def system_url(system: ConnectedSystem, path: str) -> str:
    return system.base_url.rstrip("/") + path


def transaction_enrich(tx: Transaction) -> Enriched:
    """Reads the record ``tx.fetch`` names from its source system and keeps it in the
    payload; ``tx.fetch`` is then cleared. Raises a classified ``IntegrationError`` when
    the call fails (retried when transient)."""
    system = tx.source_system
    adapter = vendor_adapter(system)
    if adapter is None or not system.base_url:
        raise IntegrationError(
            f"{system.name} has no base URL: the record {tx.fetch} its event names cannot be "
            "read. Set the system's base URL and credentials, then retry.",
            transient=False,
            error_class=ErrorClass.CONFIGURATION,
            code=ExceptionType.SYSTEM_NOT_CONFIGURED,
            system=system,
        )
    wanted = adapter.fetch_request(tx.fetch)
    fetched = record_read(system, wanted.path, params=wanted.params)
    if fetched is None:
        reason = (
            f"{system.name} has no record {tx.fetch} (GET {system_url(system, wanted.path)} "
            "answered 404): the event names a record that is gone, nothing to do."
        )
        return Enriched(ignored=reason)
    payload = plain(adapter.fetch_merge(tx.payload, fetched))
    Transaction.objects.filter(pk=tx.pk).update(payload=payload, fetch="")
    tx.payload, tx.fetch = payload, ""
    return Enriched()
