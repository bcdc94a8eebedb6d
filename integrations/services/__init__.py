"""Writes of the integration engine, split by area: inbound, processing, actions, sync."""
