"""A supervisor that keeps one child process of the tower running (a Celery worker, or beat).

It starts the child in a process group of its own, and starts a new one after 1, 2, 4 ...
seconds (at most ``CT_RESTART_BACKOFF_CAP_SECONDS``; back to 1 s once a child has shown it
works) when the child exits, or when its watch says it is stuck. Stopping a child is SIGTERM
to it, then, after ``CT_STOP_GRACE_SECONDS``, SIGKILL to its whole group, so that no pool
process of a dead worker is left behind. SIGTERM or SIGINT (Ctrl-C) to the supervisor stops
the child the same way and ends the supervisor; a second one kills the child at once.

A worker's watch (``WorkerWatch``) sends a heartbeat task every ``CT_HEARTBEAT_SECONDS`` to a
queue only that worker consumes (``worker.<node name>``). The task writes the worker's
heartbeat from inside its pool. A heartbeat that the worker has not run ``CT_WORKER_STALL_
SECONDS`` after it was sent means the worker takes no work any more (as after SIGKILL of an
idle prefork pool process: billiard's main process then waits for ever on a lock the dead
process held), and the worker is replaced. A heartbeat that could not be sent (the broker is
down) counts against nobody: replacing the worker would not bring the broker back.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from celery import current_app
from django.conf import settings
from django.db import Error as DatabaseError
from django.db import close_old_connections

from integrations.choices import ProcessRole
from integrations.logfilters import HEARTBEAT_TASK
from integrations.models import ProcessHeartbeat
from integrations.services.runtime import heartbeat_starting

logger = logging.getLogger(__name__)

# How often the supervisor looks at its child; also how soon it hears a stop.
LOOK_SECONDS = 0.2
_PR_SET_PDEATHSIG = 1


class Watch(Protocol):
    """What a supervisor asks about its child beyond "has it exited"."""

    def started(self, *, pid: int, restarts: int, last_exit: str) -> None: ...

    def stuck(self) -> str | None:
        """Called every turn of the supervisor's loop: why the child must be replaced, or
        None."""
        ...

    def proved(self) -> bool:
        """Whether the child has shown that it works (its restarts back off from 1 s again)."""
        ...


class Supervisor:
    """Keeps ``argv`` running as a child process group; see the module's docstring."""

    def __init__(
        self,
        *,
        name: str,
        argv: Sequence[str],
        watch: Watch | None = None,
        stop_grace: float | None = None,
        backoff_cap: float | None = None,
        proved_after: float = 60.0,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.watch = watch
        self.stop_grace = settings.CT_STOP_GRACE_SECONDS if stop_grace is None else stop_grace
        self.backoff_cap = (
            settings.CT_RESTART_BACKOFF_CAP_SECONDS if backoff_cap is None else backoff_cap
        )
        # Without a watch, a child that ran this long is taken to have worked.
        self.proved_after = proved_after
        self.restarts = 0
        self._stop = threading.Event()
        self._force = threading.Event()

    def run(self) -> int:
        """Runs until asked to stop; returns the exit status for the command."""
        self._install_signal_handlers()
        failures_in_row = 0
        last_exit = ""
        while not self._stop.is_set():
            child = self._spawn()
            started = time.monotonic()
            if self.watch is not None:
                self.watch.started(pid=child.pid, restarts=self.restarts, last_exit=last_exit)
            reason = self._watch(child)
            if self._stop.is_set():
                self._terminate(child)
                break
            if reason is not None:  # stuck: the child still runs
                logger.error("%s (pid %s) %s: replacing it.", self.name, child.pid, reason)
                self._terminate(child)
                last_exit = reason
            else:
                last_exit = _exit_text(child.returncode)
                logger.error("%s (pid %s) %s.", self.name, child.pid, last_exit)
                self._kill_group(child)  # pool processes the dead main process left behind
            proved = (
                self.watch.proved()
                if self.watch is not None
                else time.monotonic() - started > self.proved_after
            )
            failures_in_row = 0 if proved else failures_in_row + 1
            delay = min(self.backoff_cap, 2.0**failures_in_row)
            self.restarts += 1
            logger.warning("%s: starting it again in %.0f s.", self.name, delay)
            self._stop.wait(delay)
        logger.info("%s: stopped.", self.name)
        return 0

    def stop(self, *, force: bool = False) -> None:
        if force:
            self._force.set()
        self._stop.set()

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # a supervisor run from a test thread is stopped with ``stop``

        def handle(signum: int, frame: Any) -> None:
            again = self._stop.is_set()
            logger.info(
                "%s: %s received, %s.",
                self.name,
                signal.Signals(signum).name,
                "killing the child now" if again else "stopping the child",
            )
            self.stop(force=again)

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def _spawn(self) -> subprocess.Popen[bytes]:
        child = subprocess.Popen(
            self.argv,
            # Its own process group (and session): a signal to the supervisor's group, such as
            # Ctrl-C in a terminal, reaches the supervisor only, which stops the child in order.
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        logger.info("%s: started (pid %s): %s", self.name, child.pid, " ".join(self.argv))
        return child

    def _watch(self, child: subprocess.Popen[bytes]) -> str | None:
        """Waits until the child exits (None), its watch finds it stuck (the reason), or the
        supervisor is asked to stop."""
        while not self._stop.is_set():
            if child.poll() is not None:
                return None
            if self.watch is not None and (reason := self.watch.stuck()):
                return reason
            self._stop.wait(LOOK_SECONDS)
        return None

    def _terminate(self, child: subprocess.Popen[bytes]) -> None:
        """SIGTERM to the child, SIGKILL to its group after the grace (at once when forced)."""
        if child.poll() is None and not self._force.is_set():
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + self.stop_grace
            while child.poll() is None and time.monotonic() < deadline:
                if self._force.wait(0.05):
                    break
        self._kill_group(child)

    def _kill_group(self, child: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        _reap_orphans()


class WorkerWatch:
    """Sends a worker heartbeat tasks to its own queue and finds it stuck when it leaves one
    unrun for ``stall_seconds``."""

    def __init__(
        self,
        *,
        node: str,
        heartbeat_seconds: float | None = None,
        stall_seconds: float | None = None,
    ) -> None:
        self.node = node
        self.queue = worker_queue(node)
        self.heartbeat_seconds = float(
            settings.CT_HEARTBEAT_SECONDS if heartbeat_seconds is None else heartbeat_seconds
        )
        self.stall_seconds = float(
            settings.CT_WORKER_STALL_SECONDS if stall_seconds is None else stall_seconds
        )
        self._sent: deque[float] = deque()  # Unix times of heartbeats sent and not yet run
        self._started_at = datetime.now(UTC)
        self._spawned_at = 0.0
        self._spawned_clock = 0.0
        self._next_send = 0.0
        self._supervisor: dict[str, Any] = {}
        self._proved = False

    def started(self, *, pid: int, restarts: int, last_exit: str) -> None:
        self._sent.clear()
        self._proved = False
        self._spawned_clock = time.monotonic()
        self._next_send = self._spawned_clock
        self._supervisor = {
            "supervisor": {"host": socket.gethostname(), "pid": os.getpid()},
            "main_pid": pid,
            "restarts": restarts,
            "last_exit": last_exit,
            "queue": self.queue,
        }
        started_at = datetime.now(UTC)
        self._started_at = started_at
        self._spawned_at = started_at.timestamp()
        try:
            close_old_connections()
            heartbeat_starting(
                role=ProcessRole.WORKER, name=self.node, details=self._supervisor, at=started_at
            )
        except DatabaseError as exc:
            logger.warning("%s: could not record the start: %s", self.node, exc)

    def stuck(self) -> str | None:
        clock = time.monotonic()
        if clock < self._next_send:
            return None
        self._next_send = clock + self.heartbeat_seconds
        self._send()
        last_run = self._last_run()
        if last_run is None:  # the database does not answer: no verdict
            return None
        while self._sent and self._sent[0] <= last_run:
            self._sent.popleft()
        if last_run > self._spawned_at:
            self._proved = True
        up = clock - self._spawned_clock
        if self._sent and up > self.stall_seconds:
            waited = time.time() - self._sent[0]
            if waited > self.stall_seconds:
                return (
                    f"has not run a heartbeat sent {waited:.0f} s ago "
                    f"(limit {self.stall_seconds:g} s)"
                )
        return None

    def proved(self) -> bool:
        return self._proved

    def _send(self) -> None:
        sent_at = time.time()
        try:
            current_app.send_task(
                HEARTBEAT_TASK,
                kwargs={
                    "node": self.node,
                    # Exactly the start recorded: the task tells this incarnation by it.
                    "started_at": self._started_at.isoformat(),
                    "sent_at": sent_at,
                    "supervisor": self._supervisor,
                },
                queue=self.queue,
                # A heartbeat is worth nothing once it could no longer prove the worker alive.
                expires=self.stall_seconds,
                retry=False,
            )
        except Exception as exc:  # the broker is unreachable: the worker is not to blame
            logger.warning("%s: could not send a heartbeat: %s", self.node, exc)
            return
        self._sent.append(sent_at)

    def _last_run(self) -> float | None:
        """When the worker last ran a heartbeat (Unix time; 0 if never), None if unknown."""
        try:
            close_old_connections()
            beat_at = (
                ProcessHeartbeat.objects.filter(name=self.node)
                .values_list("beat_at", flat=True)
                .first()
            )
        except DatabaseError as exc:
            logger.warning("%s: could not read its heartbeat: %s", self.node, exc)
            return None
        return beat_at.timestamp() if beat_at else 0.0


def worker_node(node: str) -> str:
    """A worker's full node name: ``%h`` is this host, and a bare name gets ``@<host>``."""
    host = socket.gethostname()
    node = node.replace("%h", host)
    return node if "@" in node else f"{node}@{host}"


def worker_queue(node: str) -> str:
    """The queue only the worker ``node`` consumes: ``worker.<node>``, with what a queue name
    may not hold (the embedded broker names files after it) written as ``-``."""
    return "worker." + re.sub(r"[^A-Za-z0-9._-]", "-", node)


def worker_argv(*, node: str, queues: Sequence[str], celery_args: Sequence[str]) -> list[str]:
    """The command of a Celery worker named ``node`` on ``queues`` and its own queue."""
    every = [*queues, worker_queue(node)]
    return [
        *_celery(),
        "worker",
        f"--hostname={node}",
        f"--queues={','.join(every)}",
        *celery_args,
    ]


def beat_argv(*, celery_args: Sequence[str]) -> list[str]:
    return [*_celery(), "beat", *celery_args]


def _celery() -> list[str]:
    # The app is named after the module that defines it (``Celery("controltower")``).
    return [sys.executable, "-m", "celery", "-A", current_app.main]


def _exit_text(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        return f"was ended by {signal.Signals(-returncode).name}"
    return f"exited with status {returncode}"


def _reap_orphans() -> None:
    """Collects exited processes that were handed to the supervisor: as a container's first
    process it inherits the pool processes of a worker that died before them."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:  # no child left at all
            return
        if pid == 0:  # children left, none of them exited
            return


def _die_with_parent() -> None:
    """In the child, before it runs: the kernel kills it if the supervisor dies (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # another system: the supervisor's own stop has to do
        pass
