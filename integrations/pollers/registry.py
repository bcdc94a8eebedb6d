from __future__ import annotations

from typing import TYPE_CHECKING

from integrations.pollers.base import PollSource
from integrations.pollers.rest import CRM_ACCOUNTS, PSA_TIME_ENTRIES

if TYPE_CHECKING:
    from integrations.models import Poller

_SOURCES: dict[tuple[str, str], PollSource] = {
    (source.system_kind, source.record_type): source for source in (PSA_TIME_ENTRIES, CRM_ACCOUNTS)
}


def source_kinds() -> list[tuple[str, str]]:
    """The (system kind, record type) pairs a poller can read."""
    return sorted(_SOURCES)


def source_for(poller: Poller) -> PollSource:
    try:
        return _SOURCES[(poller.system.kind, poller.record_type)]
    except KeyError:
        raise LookupError(
            f"The tower cannot poll {poller.get_record_type_display().lower()} from a "
            f"{poller.system.get_kind_display()} system."
        ) from None
