"""The simulated systems and the record kinds each one serves."""

from __future__ import annotations

from django.db import models


class SimulatedSystemSlug(models.TextChoices):
    ERP = "erp", "ERP (NetSuite-style REST)"
    PSA = "psa", "PSA"
    CRM = "crm", "CRM"
    CLM = "clm", "Contract lifecycle"


class Dialect(models.TextChoices):
    """How a system shapes its error bodies."""

    NETSUITE = "netsuite", 'NetSuite: {"o:errorDetails": [...]}'
    REST = "rest", 'Plain REST: {"error": {"code", "message"}}'


DIALECTS = {
    SimulatedSystemSlug.ERP: Dialect.NETSUITE,
    SimulatedSystemSlug.PSA: Dialect.REST,
    SimulatedSystemSlug.CRM: Dialect.REST,
    SimulatedSystemSlug.CLM: Dialect.REST,
}

# ERP record types, named as NetSuite names them in the URL.
ERP_KINDS = ("customer", "job", "projectCostForecast", "invoice")

# The REST systems' collections: URL segment -> the record kind it stores (the name a
# ``reject`` rule uses in ``record``).
REST_COLLECTIONS: dict[str, dict[str, str]] = {
    SimulatedSystemSlug.PSA: {
        "projects": "project",
        "assignments": "assignment",
        "time-entries": "time_entry",
    },
    SimulatedSystemSlug.CRM: {"accounts": "account", "opportunities": "opportunity"},
    SimulatedSystemSlug.CLM: {"contracts": "contract", "amendments": "amendment"},
}


def record_kinds(system: str) -> tuple[str, ...]:
    """Every record kind the system stores."""
    if system == SimulatedSystemSlug.ERP:
        return ERP_KINDS
    return tuple(REST_COLLECTIONS.get(system, {}).values())


class InvoiceStatus(models.TextChoices):
    """NetSuite's invoice status ids and their ``refName``."""

    OPEN = "open", "Open"
    PAID_IN_FULL = "paidInFull", "Paid In Full"
