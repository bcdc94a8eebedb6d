"""The engine's one error type: transient failures are retried, the rest block."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from integrations.choices import ErrorClass
from integrations.exception_types import exception_kind


class IntegrationError(Exception):
    """A failure while running a flow.

    ``transient`` says whether to retry (timeouts, 5xx, 429) or to block the
    transaction with a business exception of type ``code``, which must be in the
    registry (``integrations.exception_types``).
    """

    def __init__(
        self,
        message: str,
        *,
        transient: bool,
        error_class: ErrorClass,
        code: str = "",
        retry_after: float | None = None,
        outbound_status: int | None = None,
        outbound_summary: str = "",
        details: dict[str, Any] | None = None,
        waiting_on: str = "",
        money_at_risk: Decimal | None = None,
        currency: str = "",
        money_note: str = "",
        record: Any = None,
        system: Any = None,
    ) -> None:
        if code:
            exception_kind(code)  # an unknown code fails here, where it is written
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.error_class = error_class
        self.code = code
        self.retry_after = retry_after
        self.outbound_status = outbound_status
        self.outbound_summary = outbound_summary
        self.details = details or {}
        # The missing record whose arrival clears a business failure, e.g. legal_entity:ZZ99.
        self.waiting_on = waiting_on
        self.money_at_risk = money_at_risk
        self.currency = currency
        # How the raising code counted ``money_at_risk``; empty: the registry's words for it.
        self.money_note = money_note
        # The canonical record the failure is about, where the flow knows it better than the event.
        self.record = record
        # The connected system whose call failed: its retry budget applies, not the flow's count.
        self.system = system

    @classmethod
    def transient_failure(
        cls, message: str, *, retry_after: float | None = None, **kwargs: Any
    ) -> IntegrationError:
        return cls(
            message,
            transient=True,
            error_class=kwargs.pop("error_class", ErrorClass.TRANSIENT),
            retry_after=retry_after,
            **kwargs,
        )

    @classmethod
    def business(cls, message: str, *, code: str, **kwargs: Any) -> IntegrationError:
        return cls(
            message,
            transient=False,
            error_class=kwargs.pop("error_class", ErrorClass.DATA),
            code=code,
            **kwargs,
        )
