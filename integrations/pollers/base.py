from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from integrations.adapters import InboundEvent
    from integrations.models import ConnectedSystem


@dataclass(frozen=True)
class Page:
    """One page of a system's changed records, as its API answered them."""

    records: list[dict[str, Any]]
    has_more: bool


class PollSource(Protocol):
    """Reads one record type from one kind of system that speaks one dialect (adapter)."""

    system_kind: str
    adapter: str
    record_type: str

    def page(
        self, system: ConnectedSystem, *, since: datetime | None, offset: int, limit: int
    ) -> Page:
        """The records changed at or after ``since``, from ``offset``; raises a classified
        ``IntegrationError`` when the system does not answer as it should."""

    def changed_at(self, record: dict[str, Any]) -> datetime:
        """When the system last changed the record; ``ValueError`` (or ``EventRejected``
        naming the vendor's field) when it does not say."""

    def event(self, record: dict[str, Any]) -> InboundEvent:
        """The record as an inbound event, keyed by the record's id and ``changed_at`` like
        the system's webhooks would be; ``EventRejected`` when it does not fit."""
