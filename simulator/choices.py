"""The simulated systems and the record kinds each one serves."""

from __future__ import annotations

from django.db import models


class SimulatedSystemSlug(models.TextChoices):
    ERP = "erp", "ERP (NetSuite-style REST)"
    # A second ERP instance (another region's books), for firms that run one per region.
    ERP2 = "erp2", "Second ERP (NetSuite-style REST)"
    PSA = "psa", "PSA"
    CRM = "crm", "CRM"
    CLM = "clm", "Contract lifecycle"
    HRIS = "hris", "HRIS (BambooHR-style REST)"
    HARVEST = "harvest", "Time tracking (Harvest-style REST)"


class Dialect(models.TextChoices):
    """How a system shapes its error bodies."""

    NETSUITE = "netsuite", 'NetSuite: {"o:errorDetails": [...]}'
    REST = "rest", 'Plain REST: {"error": {"code", "message"}}'


# The NetSuite-style ERP instances: the same API, each with its own records and knobs.
ERP_SLUGS = (SimulatedSystemSlug.ERP, SimulatedSystemSlug.ERP2)

DIALECTS = {
    SimulatedSystemSlug.ERP: Dialect.NETSUITE,
    SimulatedSystemSlug.ERP2: Dialect.NETSUITE,
    SimulatedSystemSlug.PSA: Dialect.REST,
    SimulatedSystemSlug.CRM: Dialect.REST,
    SimulatedSystemSlug.CLM: Dialect.REST,
    SimulatedSystemSlug.HRIS: Dialect.REST,
    SimulatedSystemSlug.HARVEST: Dialect.REST,
}


class AuthMode(models.TextChoices):
    """What credentials a system's API demands (the ``auth`` knob)."""

    NONE = "none", "None: every call is let in"
    OAUTH2 = "oauth2", "OAuth 2.0 client credentials: Authorization: Bearer <token>"
    API_KEY = "api_key", "API key: X-Api-Key: <key>"
    BASIC = "basic", "HTTP Basic: the client id and secret"
    BASIC_KEY = "basic_key", "HTTP Basic: the API key as the user name, any password"
    HARVEST = "harvest", "Harvest: Authorization: Bearer <token> and Harvest-Account-Id"


# The modes each system offers, as the vendor it stands for does: NetSuite's REST web
# services take OAuth 2.0 tokens, never a password; the PSA, CRM and CLM an API key or
# HTTP Basic; the HRIS (BambooHR) HTTP Basic with its API key as the user name; Harvest a
# personal access token as a bearer token with the account id in its own header.
AUTH_MODES: dict[str, tuple[str, ...]] = {
    SimulatedSystemSlug.ERP: (AuthMode.NONE, AuthMode.OAUTH2),
    SimulatedSystemSlug.ERP2: (AuthMode.NONE, AuthMode.OAUTH2),
    SimulatedSystemSlug.PSA: (AuthMode.NONE, AuthMode.API_KEY, AuthMode.BASIC),
    SimulatedSystemSlug.CRM: (AuthMode.NONE, AuthMode.API_KEY, AuthMode.BASIC),
    SimulatedSystemSlug.CLM: (AuthMode.NONE, AuthMode.API_KEY, AuthMode.BASIC),
    SimulatedSystemSlug.HRIS: (AuthMode.NONE, AuthMode.BASIC_KEY),
    SimulatedSystemSlug.HARVEST: (AuthMode.NONE, AuthMode.HARVEST),
}

# ERP record types, named as NetSuite names them in the URL.
# ``term`` (payment terms) and ``salesTaxItem`` (tax codes) are the lists an invoice's
# codes are checked against, per subsidiary; ``journalEntry`` carries project cost and
# ``revenuePlan`` a contract's revenue schedule; a ``creditMemo`` is created from an invoice
# (``createdFrom``) and hands back part or all of what it billed.
ERP_KINDS = (
    "customer",
    "job",
    "projectCostForecast",
    "invoice",
    "creditMemo",
    "term",
    "salesTaxItem",
    "journalEntry",
    "revenuePlan",
)

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
    SimulatedSystemSlug.HRIS: {"employees": "employee"},
    # Harvest's own API reads them (``/v2/users/<id>``, ``/v2/projects/<id>``); the plain
    # REST doors are where a test or the demo puts them.
    SimulatedSystemSlug.HARVEST: {"users": "user", "projects": "project"},
}


def record_kinds(system: str) -> tuple[str, ...]:
    """Every record kind the system stores."""
    if system in ERP_SLUGS:
        return ERP_KINDS
    return tuple(REST_COLLECTIONS.get(system, {}).values())


class InvoiceStatus(models.TextChoices):
    """NetSuite's invoice status ids and their ``refName``."""

    OPEN = "open", "Open"
    PAID_IN_FULL = "paidInFull", "Paid In Full"
