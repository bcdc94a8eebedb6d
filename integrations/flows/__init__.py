"""Flow handlers, found by event type.

A handler takes a claimed Transaction, applies it inside the caller's database
transaction, and returns its Outcome; it raises ``IntegrationError`` (or a
canonical ``RuleViolation``) when it cannot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from integrations.choices import ErrorClass
from integrations.errors import IntegrationError

if TYPE_CHECKING:
    from integrations.models import Transaction

Handler = Callable[["Transaction"], str]

_HANDLERS: dict[str, Handler] = {}


def handles(event_type: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        _HANDLERS[event_type] = func
        return func

    return register


def handler_for(event_type: str) -> Handler:
    try:
        return _HANDLERS[event_type]
    except KeyError:
        raise IntegrationError(
            f"No handler for event type {event_type!r}.",
            transient=False,
            error_class=ErrorClass.CONFIGURATION,
            code="unhandled_event_type",
        ) from None


from integrations.flows import master_data  # noqa: E402,F401  (registers its handlers)
