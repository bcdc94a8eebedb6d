"""The firm the billing and revenue worked examples are signed in."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.factories.canonical import (
    CustomerFactory,
    LegalEntityFactory,
    RateCardFactory,
    RateCardLineFactory,
)


@pytest.fixture
def firm():
    """A US company, its customer C-1001 and rate card RC-US: Consultant 150/h, Architect 200/h."""
    entity = LegalEntityFactory(code="US01")
    CustomerFactory(number="C-1001", legal_entity=entity, currency="USD")
    card = RateCardFactory(code="RC-US", currency="USD", legal_entity=entity)
    RateCardLineFactory(rate_card=card, role="Consultant", rate=Decimal("150.00"))
    RateCardLineFactory(rate_card=card, role="Architect", rate=Decimal("200.00"))
    return entity
