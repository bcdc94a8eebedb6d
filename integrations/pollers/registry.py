"""The poll sources, found by what a system is and speaks: its kind, its adapter (the
dialect of its API) and the record type. Two HRIS systems may need two sources for their
workers: one speaks BambooHR's API, another the tower's canonical REST."""

from __future__ import annotations

from typing import TYPE_CHECKING

from integrations.pollers.bamboohr import BAMBOOHR_WORKERS
from integrations.pollers.base import PollSource
from integrations.pollers.rest import CRM_ACCOUNTS, PSA_TIME_ENTRIES

if TYPE_CHECKING:
    from integrations.models import ConnectedSystem, Poller

_SOURCES: dict[tuple[str, str, str], PollSource] = {
    (source.system_kind, source.adapter, source.record_type): source
    for source in (PSA_TIME_ENTRIES, CRM_ACCOUNTS, BAMBOOHR_WORKERS)
}


def source_kinds() -> list[tuple[str, str, str]]:
    """The (system kind, adapter, record type) a poller can read."""
    return sorted(_SOURCES)


def source_find(*, system: ConnectedSystem, record_type: str) -> PollSource | None:
    """What reads ``record_type`` from ``system``; None when the tower cannot poll it."""
    return _SOURCES.get((system.kind, system.adapter, record_type))


def source_for(poller: Poller) -> PollSource:
    source = source_find(system=poller.system, record_type=poller.record_type)
    if source is None:
        raise LookupError(
            f"The tower cannot poll {poller.get_record_type_display().lower()} from a "
            f"{poller.system.get_kind_display()} system that speaks "
            f"{poller.system.get_adapter_display()}."
        )
    return source
