"""Locks that serialize work on one thing across every worker process.

A push of a record to a system looks the record up there and creates it when it is
missing; two workers doing that at once would both see "missing" and both create. So a
push holds the (system, record) lock from its look-up until its sync state is written.

The lock lives where the workers meet: a PostgreSQL advisory lock (session level, so no
database transaction stays open during the calls to the other system) in production,
and an advisory file lock beside the embedded SQLite database, whose processes share
one machine. Both are released by the operating system or the database when the
process holding them dies, so a SIGKILLed worker never leaves a lock behind.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

from integrations.errors import IntegrationError

# The embedded mode's locks are striped over this many files: two records may share one
# (and wait for each other a moment), but the folder never grows.
FILE_STRIPES = 1024


class LockBusy(Exception):
    """Another worker held the lock for longer than the caller would wait."""


def lock_key(name: str) -> int:
    """A stable signed 64-bit number for ``name``, as PostgreSQL's advisory locks take."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def named_lock(name: str, *, timeout: float) -> Iterator[None]:
    """Holds the lock called ``name`` for the block; raises ``LockBusy`` after ``timeout`` s."""
    if connection.vendor == "postgresql":
        with _advisory_lock(lock_key(name), timeout=timeout):
            yield
    else:
        with _file_lock(name, timeout=timeout):
            yield


def _waits(timeout: float) -> Iterator[None]:
    """Yields until ``timeout`` has passed, sleeping a little longer each time."""
    deadline = time.monotonic() + timeout
    pause = 0.01
    while True:
        yield
        if time.monotonic() >= deadline:
            raise LockBusy
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


@contextmanager
def _advisory_lock(key: int, *, timeout: float) -> Iterator[None]:
    with connection.cursor() as cursor:
        for _ in _waits(timeout):
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            if cursor.fetchone()[0]:
                break
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


# The stripes each thread holds: a lock taken inside another (a token fetched during a push)
# may fall in the stripe its thread already holds, and must not wait for itself.
_held = threading.local()


@contextmanager
def _file_lock(name: str, *, timeout: float) -> Iterator[None]:
    # Beside the database file: the processes that share the database share its locks.
    folder = Path(str(connection.settings_dict["NAME"])).with_suffix(".locks")
    folder.mkdir(parents=True, exist_ok=True)
    stripe = lock_key(name) % FILE_STRIPES
    held: set[int] = _held.__dict__.setdefault("stripes", set())
    if stripe in held:  # this thread holds the stripe already: the lock is ours
        yield
        return
    fd = os.open(folder / f"{stripe:04d}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        for _ in _waits(timeout):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                continue
        held.add(stripe)
        try:
            yield
        finally:
            held.discard(stripe)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def push_lock(*, system_id: int, record_label: str, record_id: int) -> Iterator[None]:
    """Holds the lock of pushing one record to one system: only one worker at a time looks
    it up there, creates or updates it, and records where it stands.

    A worker that waits longer than ``CT_PUSH_LOCK_WAIT_SECONDS`` gives up with a transient
    failure: its transaction is retried, and by then the other worker's push is recorded.
    """
    name = f"push:{system_id}:{record_label}:{record_id}"
    try:
        with named_lock(name, timeout=settings.CT_PUSH_LOCK_WAIT_SECONDS):
            yield
    except LockBusy:
        raise IntegrationError.transient_failure(
            f"Another worker is pushing {record_label} {record_id} to the same system; "
            "this push waits for it and runs again.",
            retry_after=1.0,
        ) from None


# PostgreSQL's SQLSTATEs for a request that lost to another over the same rows: a deadlock
# (it aborts one of the two), a serialization failure, a lock not available (NOWAIT).
CONCURRENCY_SQLSTATES = frozenset({"40P01", "40001", "55P03"})


def lost_to_concurrent_work(exc: BaseException) -> bool:
    """Whether a database error says that another transaction got in the way (trying again
    may well succeed), not that the database is unreachable or the query wrong."""
    cause = exc.__cause__
    if getattr(cause, "sqlstate", None) in CONCURRENCY_SQLSTATES:
        return True
    return connection.vendor == "sqlite" and "database is locked" in str(exc)
