from __future__ import annotations

from typing import TYPE_CHECKING

from integrations.adapters.bamboohr import BambooHRAdapter
from integrations.adapters.base import InboundAdapter
from integrations.adapters.canonical import CanonicalAdapter
from integrations.adapters.docusign import DocuSignAdapter
from integrations.adapters.harvest import HarvestAdapter
from integrations.adapters.salesforce import SalesforceAdapter
from integrations.adapters.workday import WorkdayAdapter

if TYPE_CHECKING:
    from integrations.models import ConnectedSystem

_ADAPTERS: dict[str, InboundAdapter] = {
    adapter.name: adapter
    for adapter in (
        CanonicalAdapter(),
        SalesforceAdapter(),
        DocuSignAdapter(),
        HarvestAdapter(),
        BambooHRAdapter(),
        WorkdayAdapter(),
    )
}


def get_adapter(name: str) -> InboundAdapter:
    try:
        return _ADAPTERS[name]
    except KeyError:
        raise LookupError(f"No inbound adapter named {name!r}.") from None


def adapter_for(system: ConnectedSystem) -> InboundAdapter:
    return get_adapter(system.adapter)
