"""Inbound adapters, one module per payload dialect, found by the system's adapter name."""

from __future__ import annotations

from integrations.adapters.base import EventRejected, InboundAdapter, InboundEvent
from integrations.adapters.registry import adapter_for, get_adapter

__all__ = ["EventRejected", "InboundAdapter", "InboundEvent", "adapter_for", "get_adapter"]
