"""How the tower writes an amount for people: two decimals, thousands separated, currency after.

Messages, pages and exports use this one form, so that ``10622.5`` in one place is never
``10,622.50 EUR`` in another.
"""

from __future__ import annotations

from decimal import Decimal


def money_text(amount: Decimal | int | float, currency: str = "") -> str:
    """``money_text(Decimal("10622.5"), "EUR")`` is ``"10,622.50 EUR"``."""
    return f"{Decimal(str(amount)):,.2f} {currency}".strip()
