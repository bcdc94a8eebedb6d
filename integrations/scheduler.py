"""Beat's scheduler: django-celery-beat's database scheduler, made to watch itself.

Three things beyond the stock scheduler:

- A database error does not end beat. The stock scheduler catches some of them (reading
  the change marker, saving run times) but lets others out of its tick (reading the
  schedule), and beat then exits for good. Here every database error of a tick or a sync is
  logged, the connection is closed, and beat waits 1, 2, 4 ... seconds (at most
  ``CT_BEAT_RETRY_CAP_SECONDS``) before it tries again.
- Beat records its own heartbeat from its loop, every ``CT_HEARTBEAT_SECONDS``.
- Beat runs the engine's sweep itself, every ``CT_SWEEP_INTERVAL_SECONDS``, instead of
  sending it to a worker: the sweep re-sends work that a stuck or dead worker holds, so it
  must not wait in that worker's pool.
"""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

from django.conf import settings
from django.db import Error as DatabaseError
from django.db import close_old_connections, connections
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from integrations.choices import ProcessRole
from integrations.services.runtime import heartbeat_record, process_identity
from integrations.services.sweep import engine_sweep

logger = logging.getLogger(__name__)

# Entries that beat used to send to a worker and now runs itself; an older database still
# holds them as periodic tasks, which the stock scheduler would go on sending.
RETIRED_ENTRIES = ("sweep-transactions",)


def beat_name() -> str:
    """Beat's heartbeat name: one beat per host (Celery runs one beat per tower)."""
    return f"beat@{socket.gethostname()}"


class WatchedDatabaseScheduler(DatabaseScheduler):
    """django-celery-beat's scheduler that outlives database errors, records beat's
    heartbeat and runs the sweep in beat's own process."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.started_at = timezone.now()
        self.heartbeat_name = beat_name()
        self.database_failures = 0  # in a row
        self._next_heartbeat = 0.0
        self._next_sweep = 0.0
        super().__init__(*args, **kwargs)
        # The loop must come round at least once per heartbeat.
        self.max_interval = min(self.max_interval, settings.CT_HEARTBEAT_SECONDS)

    def setup_schedule(self) -> None:
        PeriodicTask.objects.filter(name__in=RETIRED_ENTRIES).delete()
        super().setup_schedule()

    def tick(self, *args: Any, **kwargs: Any) -> float:
        try:
            self.housekeeping()
            delay = super().tick(*args, **kwargs)
        except DatabaseError as exc:
            return self._database_failed(exc)
        if self.database_failures:
            logger.warning(
                "beat: the database answers again after %s failed tries.", self.database_failures
            )
            self.database_failures = 0
        return delay

    def sync(self) -> None:
        try:
            super().sync()
        except DatabaseError as exc:
            # Run times not saved now are saved by the next sync (they stay marked dirty).
            logger.warning("beat: could not save the schedule's run times: %s", exc)
            _close_connections()

    def housekeeping(self) -> None:
        """Beat's heartbeat and, when due, the sweep; a database error goes to ``tick``."""
        close_old_connections()  # one that failed or grew old is replaced before use
        clock = time.monotonic()
        if clock >= self._next_heartbeat:
            heartbeat_record(
                role=ProcessRole.BEAT,
                name=self.heartbeat_name,
                started_at=self.started_at,
                details={**process_identity(), "sweep_every_seconds": self.sweep_seconds},
            )
            # A little early rather than a whole tick late: ticks come round just under the
            # heartbeat interval, and a heartbeat due a moment after one waits for the next.
            self._next_heartbeat = clock + settings.CT_HEARTBEAT_SECONDS * 0.9
        if clock >= self._next_sweep:
            # Due again after the interval whatever this one does: a failing sweep is not
            # retried on every tick.
            self._next_sweep = clock + self.sweep_seconds
            self.sweep()

    @property
    def sweep_seconds(self) -> float:
        return float(settings.CT_SWEEP_INTERVAL_SECONDS)

    def sweep(self) -> None:
        try:
            summary = engine_sweep()
        except DatabaseError:
            raise
        except Exception:  # a bug in one sweep must not end beat; it is logged and runs again
            logger.exception("beat: the sweep failed; it runs again in %s s.", self.sweep_seconds)
            return
        if any(summary.values()):
            logger.info("beat: swept %s", summary)

    def _database_failed(self, exc: DatabaseError) -> float:
        self.database_failures += 1
        delay = min(float(settings.CT_BEAT_RETRY_CAP_SECONDS), 2.0 ** (self.database_failures - 1))
        # The whole traceback once; the same error again is one line.
        logger.error(
            "beat: database error (%s: %s); trying again in %.0f s.",
            type(exc).__name__,
            str(exc).strip().splitlines()[0] if str(exc).strip() else "",
            delay,
            exc_info=self.database_failures == 1,
        )
        _close_connections()
        return delay


def _close_connections() -> None:
    for conn in connections.all(initialized_only=True):
        try:
            conn.close()
        except DatabaseError:  # a connection that is already gone may fail to close
            pass
