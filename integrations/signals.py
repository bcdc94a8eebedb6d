"""Hooks the engine offers to the layer above it.

The engine records business exceptions as facts and closes them when their cause is
fixed; it knows nothing of teams, queues, SLAs or the audit log. The operations layer
listens here to act on those facts (``controltower.operations.receivers``): routing a new
exception to its team, writing down a close that no person made. Both signals are
sent inside the database transaction that made the change, so a receiver's writes
commit or roll back with it.
"""

from __future__ import annotations

from django.dispatch import Signal

# A new exception was recorded (not one joined by another failure of the same cause).
# Arguments: exception (the ExceptionRecord).
exception_raised = Signal()

# An open exception was closed by ``exception_close``. Arguments: exception, actor (a
# user, or None), text (the resolution or reason), by_fix (True when the engine closed it
# because its cause was fixed), previous_status, released (the transactions it re-ran
# or cancelled).
exception_closed = Signal()

# The tower disabled a subscription after a run of failed deliveries. Arguments:
# subscription (the Subscription); its owning team is told.
subscription_disabled = Signal()
# A worker ran a chunk of transactions (each is now final, waiting to retry, or blocked).
# Arguments: ids (the transactions it claimed). Sent after the chunk's work committed.
transactions_processed = Signal()
