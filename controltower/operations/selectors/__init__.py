"""Reads of the operations layer, one module per page or concern."""
