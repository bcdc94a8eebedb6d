"""The Django admin for the records of every layer (found by the admin's autodiscovery of
this app's ``admin`` module)."""

from controltower.web.admin import access, canonical, engine, operations

__all__ = ["access", "canonical", "engine", "operations"]
