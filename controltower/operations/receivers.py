"""The operations layer's answers to the engine's hooks (``integrations.signals``).

Each receiver calls one service: a new exception is opened in its team's queue, and
every close is written down as the operations layer keeps it, a subscription the engine
disabled is told to its owning team, and a chunk the workers ran moves the progress of the
bulk retries it belongs to.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from controltower.operations.services.bulk import bulk_retry_progress
from controltower.operations.services.exceptions import exception_case_open, exception_closed_record
from controltower.operations.services.notices import subscription_disabled_notify
from integrations.signals import (
    exception_closed,
    exception_raised,
    subscription_disabled,
    transactions_processed,
)


@receiver(exception_raised, dispatch_uid="controltower.exception_raised")
def _exception_raised(sender: Any, *, exception: Any, **kwargs: Any) -> None:
    exception_case_open(record=exception)


@receiver(exception_closed, dispatch_uid="controltower.exception_closed")
def _exception_closed(sender: Any, **kwargs: Any) -> None:
    kwargs.pop("signal", None)
    exception_closed_record(**kwargs)


@receiver(subscription_disabled, dispatch_uid="controltower.subscription_disabled")
def _subscription_disabled(sender: Any, *, subscription: Any, **kwargs: Any) -> None:
    subscription_disabled_notify(subscription=subscription)


@receiver(transactions_processed, dispatch_uid="controltower.transactions_processed")
def _transactions_processed(sender: Any, *, ids: list[int], **kwargs: Any) -> None:
    bulk_retry_progress(transaction_ids=ids)
