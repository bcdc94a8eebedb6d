"""Log filters the settings install; importable before Django's apps are ready."""

from __future__ import annotations

import logging

# ``integrations.tasks.heartbeat_task``, which a worker's supervisor sends every few seconds.
HEARTBEAT_TASK = "integrations.tasks.heartbeat_task"


class HeartbeatLogFilter(logging.Filter):
    """Leaves out a worker's routine lines about heartbeat tasks (received, succeeded): a pair
    every few seconds would drown the log. Their warnings and errors still show."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.INFO or HEARTBEAT_TASK not in record.getMessage()
