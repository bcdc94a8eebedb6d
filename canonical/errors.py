"""The one family of refusals every layer raises, and the canonical layer's own.

A refusal names what is wrong in words the caller can act on (``message``) and, where
it is about input, the fields at fault (``errors``: ``{"field.path": ["..."]}``). The
family lives in the bottom layer so that the engine and the operations layer raise the
same errors; the web layer turns any of them into the API's one error shape and a
page's message, with ``status_code`` as the HTTP status.
"""

from __future__ import annotations

from decimal import Decimal
from http import HTTPStatus
from typing import Any

from canonical.choices import RuleCode


class ApplicationError(Exception):
    """A refusal the caller can act on."""

    status_code: int = HTTPStatus.BAD_REQUEST

    def __init__(
        self,
        message: str,
        *,
        errors: dict[str, list[str]] | None = None,
        status_code: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        self.extra = extra or {}
        if status_code is not None:
            self.status_code = status_code

    def as_dict(self) -> dict[str, Any]:
        return {"message": self.message, "errors": self.errors, **self.extra}


class NotFoundError(ApplicationError):
    status_code = HTTPStatus.NOT_FOUND


class ConflictError(ApplicationError):
    status_code = HTTPStatus.CONFLICT


class InvalidStateError(ConflictError):
    """The action does not apply to the object in its current state."""


class RuleViolation(ApplicationError):
    """A business rule refused the change; ``code`` (a ``RuleCode``) names the business
    exception it becomes."""

    status_code = HTTPStatus.UNPROCESSABLE_ENTITY

    def __init__(
        self,
        message: str,
        *,
        code: RuleCode,
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
            extra={"code": str(code), "details": self.details, **(extra or {})},
        )


class ImmutableRecordError(ConflictError):
    """A record that is history (a contract version) cannot be changed or deleted."""
