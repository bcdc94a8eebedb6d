"""Correlation ids carried through requests, tasks and log lines.

A request takes its caller's id (or gets a new one), a task takes its transaction's,
and every log line and audit row written meanwhile carries it.
"""

from __future__ import annotations

import contextvars
import logging
import uuid

correlation_id_var: contextvars.ContextVar[str] = contextvars.ContextVar(
    "correlation_id", default="-"
)


def new_correlation_id() -> str:
    return uuid.uuid4().hex


class CorrelationIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = correlation_id_var.get()
        return True
