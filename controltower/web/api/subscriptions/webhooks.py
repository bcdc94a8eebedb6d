"""The OpenAPI document's ``webhooks``: each event type the tower POSTs to subscribers, with
its JSON Schema (``integrations/schemas/events/<type>.json``) and the signature headers.

drf-spectacular reads them from ``SPECTACULAR_SETTINGS["WEBHOOKS"]``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from drf_spectacular.utils import OpenApiWebhook

from integrations import signatures
from integrations.choices import EventType
from integrations.services.deliveries import HEADER_ATTEMPT, HEADER_EVENT_ID, HEADER_EVENT_TYPE

SCHEMAS = Path(__file__).resolve().parents[4] / "integrations" / "schemas" / "events"


def event_schema(event_type: str) -> dict[str, Any]:
    schema = json.loads((SCHEMAS / f"{event_type}.json").read_text())
    schema.pop("$schema", None)
    schema.pop("$id", None)
    return schema


def _header(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": True,
        "schema": {"type": "string"},
        "description": description,
    }


def _webhook(event_type: EventType) -> OpenApiWebhook:
    schema = event_schema(event_type.value)
    operation = {
        "summary": str(event_type.label),
        "description": (
            f"{schema['description']} POSTed to each subscription to `{event_type.value}`, "
            "in order per record, at least once: de-duplicate on the event id. Verify "
            f"`{signatures.HEADER}` (HMAC-SHA256 of `<t>.<raw body>` with the subscription's "
            "secret, as on the tower's own inbound endpoint) and answer 2xx; any other answer "
            "is tried again with backoff."
        ),
        "operationId": f"webhook_{event_type.value.replace('.', '_')}",
        "tags": ["webhooks"],
        "parameters": [
            _header(signatures.HEADER, "t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.<raw body>'>"),
            _header(HEADER_EVENT_ID, "The event id, as in the body's id."),
            _header(HEADER_EVENT_TYPE, "The event type, as in the body's type."),
            _header(HEADER_ATTEMPT, "1 on the first try, then 2, 3 ..."),
        ],
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
        "responses": {
            "2XX": {"description": "Received. The tower sends this event here no more."},
            "default": {"description": "Not received: the tower tries again later."},
        },
    }
    return OpenApiWebhook(name=event_type.value, decorator={"post": operation})


CONTRACT_SIGNED = _webhook(EventType.CONTRACT_SIGNED)
PROJECT_READY = _webhook(EventType.PROJECT_READY)
INVOICE_POSTED = _webhook(EventType.INVOICE_POSTED)
EXCEPTION_RAISED = _webhook(EventType.EXCEPTION_RAISED)
