"""Reading a system's own copy of a record over its API, to compare it with the tower's.

A page waits for this, so it has a short timeout of its own, and a failure is not an
error of the flow: it comes back as a sentence to show (``RemoteCopy.unreachable``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from integrations.choices import SystemKind
from integrations.clients.erp import ErpClient
from integrations.clients.psa import PsaClient
from integrations.errors import IntegrationError
from integrations.models import ConnectedSystem
from integrations.services.credentials import auth_headers, auth_of

REMOTE_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class RemoteCopy:
    """What a system answered for one record: its body, or why it could not be read
    (``missing`` when the system says it has no such record)."""

    body: dict[str, Any] = field(default_factory=dict)
    unreachable: str = ""
    missing: bool = False


def remote_copy_read(
    *,
    system: ConnectedSystem,
    erp_record: str,
    psa_collection: str,
    label: str,
    external_id: str,
    timeout: float | None = None,
) -> RemoteCopy:
    """The system's own copy of a record (an ERP record type, or a PSA collection), read now."""
    timeout = timeout or REMOTE_TIMEOUT_SECONDS
    if system.kind == SystemKind.ERP and erp_record:
        url = f"{ErpClient(system).base}/{erp_record}/{external_id}"
    elif system.kind == SystemKind.PSA and psa_collection:
        url = f"{PsaClient(system).base}/{psa_collection}/{external_id}"
    else:
        return RemoteCopy(unreachable=f"{system.name} has no API the tower reads {label}s from.")
    try:
        credentials = auth_headers(system, auth_of(system))
    except IntegrationError as exc:  # the token endpoint is down, or refuses the credentials
        verb = "reach" if exc.transient else "sign in to"
        return RemoteCopy(unreachable=f"Could not {verb} {system.name}: {exc.message}")
    try:
        response = httpx.get(
            url,
            timeout=timeout,
            headers={
                "Accept": "application/json",
                "User-Agent": "integration-control-tower",
                **credentials,
            },
        )
    except httpx.TimeoutException:
        return RemoteCopy(
            unreachable=f"Could not reach {system.name}: no answer from {url} within {timeout:g} s."
        )
    except httpx.HTTPError as exc:
        return RemoteCopy(unreachable=f"Could not reach {system.name} at {url}: {exc}.")
    if response.status_code == 404:
        return RemoteCopy(
            unreachable=f"{system.name} has no {label.lower()} {external_id} (404 from {url}).",
            missing=True,
        )
    if response.status_code in (401, 403):
        return RemoteCopy(
            unreachable=f"{system.name} refused the tower's credentials ({url} answered "
            f"{response.status_code}); fix them on the system's connection page."
        )
    if not response.is_success:
        return RemoteCopy(
            unreachable=f"Could not read the copy in {system.name}: {url} answered "
            f"{response.status_code}."
        )
    try:
        body = response.json()
    except ValueError:
        return RemoteCopy(
            unreachable=f"{system.name} answered {url} with something other than JSON."
        )
    return RemoteCopy(body=body if isinstance(body, dict) else {})
