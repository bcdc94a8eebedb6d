from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from integrations.models import ConnectedSystem


class EventRejected(Exception):
    """An inbound request that cannot be accepted, with the field paths at fault."""

    def __init__(self, message: str, *, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


@dataclass(frozen=True)
class InboundEvent:
    """One event read from a vendor payload, in the tower's canonical form."""

    event_type: str
    flow_kind: str
    idempotency_key: str
    business_key: str
    version: int | None
    occurred_at: datetime
    payload: Any
    normalized: dict[str, Any]
    external_id: str = ""
    correlation_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # Why the tower takes no action on it (a rule of the adapter or of the mapping): it is
    # stored as ``ignored``, never dropped without a trace.
    ignored: str = ""
    # The business values the mapping could not give, by vendor path: the event is stored
    # and parked as a fixable exception, not refused.
    unmapped: dict[str, list[str]] = field(default_factory=dict)
    # The sender's id of a record the event only names (a thin event): the tower reads the
    # record from the sender's API when the event runs, then maps it.
    fetch: str = ""
    # The canonical schema version the event was written in (``normalized`` is always the
    # type's current one); None while a vendor record is not yet mapped to an event.
    schema_version: int | None = None


class InboundAdapter(Protocol):
    """What every inbound adapter does: authenticate a request and read its events."""

    name: str

    def verify(self, *, system: ConnectedSystem, headers: Mapping[str, str], body: bytes) -> None:
        """Raise ``signatures.SignatureError`` when the request is not from the system."""

    def parse(self, *, body: bytes, mappings: Any = None) -> list[InboundEvent]:
        """Raise ``EventRejected`` naming the field path when the payload does not fit.
        ``mappings`` (a vendor adapter's): the system's mapping per record type, else the
        dialect's default."""

    def validate_normalized(self, normalized: Any) -> InboundEvent:
        """Check an edited canonical event (for a replay) and read it."""
