"""The registry of flow handlers, found by event type (the flow modules register with
``@handles``; ``IntegrationsConfig.ready`` imports them all).

A handler takes a claimed Transaction and returns its Outcome; it raises
``IntegrationError`` (or a canonical ``RuleViolation``) when it cannot.

By default the engine runs a handler inside the database transaction that also
records its success, so its effect and the transaction's new state commit
together. A handler that calls other systems is registered with ``atomic=False``:
no database transaction may stay open across an HTTP call (on SQLite the other
system's own writes would wait on it), so such a handler commits its canonical
writes in short transactions of its own and must be safe to run again: canonical
writes are versioned, and each push is skipped when the sync state shows the
target already holds the record's version.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from integrations.choices import ErrorClass, ExceptionType
from integrations.errors import IntegrationError

if TYPE_CHECKING:
    from integrations.models import Transaction

Handler = Callable[["Transaction"], str]

_HANDLERS: dict[str, Handler] = {}
_NON_ATOMIC: set[str] = set()
_DOMAINS: dict[str, str] = {}


def handles(
    event_type: str, *, atomic: bool = True, domain: str = ""
) -> Callable[[Handler], Handler]:
    """Registers a handler; ``domain`` names the data it changes, for the system-of-record rule."""

    def register(func: Handler) -> Handler:
        _HANDLERS[event_type] = func
        if not atomic:
            _NON_ATOMIC.add(event_type)
        if domain:
            _DOMAINS[event_type] = domain
        return func

    return register


def domain_of(event_type: str) -> str:
    return _DOMAINS.get(event_type, "")


BatchHandler = Callable[[list["Transaction"]], tuple[dict[int, str], list["Transaction"]]]
_BATCH_HANDLERS: dict[str, BatchHandler] = {}


def handles_batch(event_type: str) -> Callable[[BatchHandler], BatchHandler]:
    """A set-based handler: applies many transactions of one type in the caller's
    database transaction; returns {transaction id: outcome} and the ones it left."""

    def register(func: BatchHandler) -> BatchHandler:
        _BATCH_HANDLERS[event_type] = func
        return func

    return register


def batch_handler_for(event_type: str) -> BatchHandler | None:
    return _BATCH_HANDLERS.get(event_type)


def runs_atomically(event_type: str) -> bool:
    return event_type not in _NON_ATOMIC


def handler_for(event_type: str) -> Handler:
    try:
        return _HANDLERS[event_type]
    except KeyError:
        raise IntegrationError(
            f"No handler for event type {event_type!r}.",
            transient=False,
            error_class=ErrorClass.CONFIGURATION,
            code=ExceptionType.UNHANDLED_EVENT_TYPE,
        ) from None


def calls_out(event_type: str) -> bool:
    """Whether this event type's handler calls other systems (it is not atomic): its work
    is sent in small chunks, so that one slow system cannot hold others' work."""
    return event_type in _NON_ATOMIC
