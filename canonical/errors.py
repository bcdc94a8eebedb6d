"""Refusals of the canonical layer, in the one ``ApplicationError`` family."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import status

from controltower.errors import ApplicationError, ConflictError


class RuleViolation(ApplicationError):
    """A business rule refused the change; ``code`` names the business exception."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY

    def __init__(
        self,
        message: str,
        *,
        code: str,
        details: dict[str, Any] | None = None,
        waiting_on: str = "",
        money_at_risk: Decimal | None = None,
        currency: str = "",
        errors: dict[str, list[str]] | None = None,
        status_code: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.code = code
        self.details = details or {}
        # The missing record whose arrival clears this, e.g. legal_entity:ZZ99.
        self.waiting_on = waiting_on
        # What this refusal holds up: unbilled time at its rate, an invoice amount, a cap overrun.
        self.money_at_risk = money_at_risk
        self.currency = currency
        super().__init__(
            message,
            errors=errors,
            status_code=status_code,
            extra={"code": code, "details": self.details, **(extra or {})},
        )


class ImmutableRecordError(ConflictError):
    """A record that is history (a contract version) cannot be changed or deleted."""
