"""Reads about field mappings for the pages."""

from __future__ import annotations

from integrations.choices import OPEN_STATUSES, ExceptionType
from integrations.models import ConnectedSystem, ExceptionRecord
from integrations.services.exceptions import waiting_key


def mapping_exceptions(system: ConnectedSystem) -> dict[str, ExceptionRecord]:
    """The open exception of each record type of ``system`` whose work waits for a mapping
    that gives the business values it lacks, by record type."""
    prefix = waiting_key("mapping", system.slug) + ":"
    found: dict[str, ExceptionRecord] = {}
    for exc in ExceptionRecord.objects.filter(
        exception_type=ExceptionType.MAPPING_INCOMPLETE,
        waiting_on__startswith=prefix,
        status__in=OPEN_STATUSES,
    ).order_by("pk"):
        found.setdefault(exc.waiting_on[len(prefix) :].lower(), exc)
    return found
