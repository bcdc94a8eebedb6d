"""A contract signed through the canonical service, for the worked examples' firm."""

from __future__ import annotations

from datetime import date

from canonical.models import Contract
from canonical.services.contracts import ContractTerms, contract_sign


def sign(number: str, billing_model: str, **terms) -> Contract:
    """Contract ``number`` of customer C-1001 (US01, USD) from 1 November 2026, with its
    project P-<number>; ``terms`` add to or replace those."""
    values = {
        "number": number,
        "customer": "C-1001",
        "legal_entity": "US01",
        "currency": "USD",
        "billing_model": billing_model,
        "start_date": date(2026, 11, 1),
        "project_code": f"P-{number}",
        "project_name": f"Delivery for {number}",
        **terms,
    }
    return contract_sign(
        terms=ContractTerms(**values), version=1, source_system="clm", correlation_id=number
    ).contract
