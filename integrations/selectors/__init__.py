"""Reads of the integration engine, one module per concern."""
