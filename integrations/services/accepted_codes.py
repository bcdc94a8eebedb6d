"""The tax codes and payment terms each legal entity's ERP accepts, read from that ERP.

NetSuite keeps them as records of their own, per subsidiary (a legal entity): payment
terms as ``term`` (``name``, ``daysUntilNetDue``), tax codes as ``salesTaxItem``
(``itemId``, ``rate``). The tower knows a code by the record's ``externalId`` (else its
``name`` / ``itemId``), which is how an invoice then refers to it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from canonical.choices import AcceptedCodeKind
from canonical.models import Invoice, LegalEntity
from canonical.services.terms import AcceptedCodesResult, accepted_codes_replace
from integrations.clients.erp import ErpClient
from integrations.errors import IntegrationError
from integrations.selectors.routing import erp_for
from integrations.services.billing import invoice_terms_waits_clear

logger = logging.getLogger(__name__)

# The ERP record type that holds each kind of code, as NetSuite names it in the URL.
ERP_CODE_RECORDS = {
    AcceptedCodeKind.PAYMENT_TERMS: "term",
    AcceptedCodeKind.TAX_CODE: "salesTaxItem",
}


@dataclass
class AcceptedCodesSync:
    """What one sync did: per legal entity and kind, the change; and what it could not read."""

    changed: dict[str, AcceptedCodesResult] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    released: int = 0


def erp_code_of(record: dict[str, Any], kind: str) -> tuple[str, str]:
    """The code and name of an ERP ``term`` or ``salesTaxItem`` record."""
    name = str(record.get("name") or record.get("itemId") or "").strip()
    code = str(record.get("externalId") or name).strip()
    if kind == AcceptedCodeKind.TAX_CODE:
        name = str(record.get("description") or name).strip()
    return code, name


def _subsidiary_of(record: dict[str, Any]) -> str:
    subsidiary = record.get("subsidiary") or {}
    return str(subsidiary.get("id") or "").strip().upper() if isinstance(subsidiary, dict) else ""


def accepted_codes_sync(*, legal_entity_codes: list[str] | None = None) -> AcceptedCodesSync:
    """Refreshes each active legal entity's accepted codes from the ERP that owns it.

    A kind of which the ERP holds no record for the legal entity leaves the tower's list as
    it is (the ERP keeps no list there, or it could not say). Invoices of a legal entity
    whose list changed, parked for a code, try again.
    """
    result = AcceptedCodesSync()
    entities = LegalEntity.objects.filter(active=True).order_by("code")
    if legal_entity_codes:
        entities = entities.filter(code__in=[code.strip().upper() for code in legal_entity_codes])
    listed: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for entity in entities:
        try:
            system = erp_for(entity.code)
            for kind, record_type in ERP_CODE_RECORDS.items():
                if (system.pk, record_type) not in listed:
                    listed[system.pk, record_type] = ErpClient(system).list(record_type)
                theirs = [
                    record
                    for record in listed[system.pk, record_type]
                    if _subsidiary_of(record) == entity.code
                ]
                if not theirs:
                    continue
                codes = {}
                for record in theirs:
                    code, name = erp_code_of(record, kind)
                    if code and not record.get("isInactive"):
                        codes[code] = name
                change = accepted_codes_replace(
                    legal_entity=entity, kind=kind, codes=codes, source_system=system.slug
                )
                result.changed[f"{entity.code}:{kind}"] = change
                if change.any:
                    with transaction.atomic():
                        result.released += invoice_terms_waits_clear(
                            invoices=Invoice.objects.filter(legal_entity=entity),
                            resolution=f"{entity.code}'s accepted {AcceptedCodeKind(kind).label.lower()} "
                            f"changed in {system.slug}.",
                        )
        except IntegrationError as failure:
            logger.warning("Accepted codes of %s not synced: %s", entity.code, failure)
            result.failed[entity.code] = str(failure)
    return result
