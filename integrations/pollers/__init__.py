"""What a poller reads: one small source class per (system kind, adapter, record type),
found through a registry, each turning the records of a system's API into inbound events."""

from __future__ import annotations

from integrations.pollers.base import Page, PollSource
from integrations.pollers.registry import source_find, source_for, source_kinds

__all__ = ["Page", "PollSource", "source_find", "source_for", "source_kinds"]
