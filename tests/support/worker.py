"""Real processes of the tower for integration tests, and waiting for their work.

- ``WorkerProcess``: a bare Celery worker, stopped in under a second.
- ``SupervisedProcess``: ``manage.py run_worker`` or ``run_beat`` as ``make run`` starts them,
  a supervisor and the child it keeps running; ``supervised_worker`` and ``supervised_beat``
  build them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

ROOT = Path(__file__).resolve().parents[2]

# What Celery's worker says when its handler for the first and the second SIGQUIT starts; its
# handler for the third raises at once (a hard shutdown).
_SIGQUIT_HEARD = (
    "worker: Hitting Ctrl+C again will terminate all running tasks!",
    "Waiting gracefully for cold shutdown to complete...",
)
# How long a worker in hard shutdown may take to exit by itself before it is killed.
_HARD_SHUTDOWN_GRACE = 0.7


def worker_environment(settings_dict: dict[str, Any]) -> dict[str, str]:
    env = dict(os.environ)
    if "postgresql" in settings_dict["ENGINE"]:
        user = settings_dict.get("USER") or ""
        password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
        host = settings_dict.get("HOST") or "127.0.0.1"
        port = settings_dict.get("PORT") or 5432
        env["DATABASE_URL"] = f"postgres://{user}{password}@{host}:{port}/{settings_dict['NAME']}"
    else:
        env.pop("DATABASE_URL", None)
        env["CT_SQLITE_PATH"] = str(settings_dict["NAME"])
    return env


class LoggedProcess:
    """A process started for a test in a session of its own, its output in a temporary log."""

    def __init__(self, env: dict[str, str], *, prefix: str) -> None:
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.log = Path(tempfile.mkstemp(prefix=prefix, suffix=".log")[1])
        self._log_file: BinaryIO | None = None

    def _popen(self, argv: list[str]) -> None:
        self.log.write_text("")
        self._close_log()
        self._log_file = self.log.open("ab")
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=self.env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def says(self, text: str) -> bool:
        return text in self.log.read_text(errors="replace")

    def wait_to_say(self, text: str, *, timeout: float, what: str) -> None:
        wait_for(lambda: self.says(text), timeout=timeout, what=what, on_timeout=self.tail)

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def purge_broker() -> None:
    """Drops the messages earlier tests left in the flow queues."""
    from controltower.celery import app

    app.control.purge()


class WorkerProcess(LoggedProcess):
    def __init__(self, env: dict[str, str], *, concurrency: int = 2, name: str = "test") -> None:
        super().__init__(env, prefix="ct-worker-")
        self.concurrency = concurrency
        self.name = name  # two workers of one test need two node names

    def start(self, *, purge: bool = True) -> None:
        """Starts the worker; ``purge`` drops messages left by earlier tests first."""
        if purge:
            purge_broker()
        self._popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "controltower",
                "worker",
                "--loglevel=INFO",
                f"--concurrency={self.concurrency}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                f"--hostname={self.name}-{os.getpid()}@%h",
            ]
        )
        self.wait_to_say(" ready.", timeout=60, what="the worker to start")

    def kill(self) -> None:
        """SIGKILL the worker and its pool: nothing gets to clean up."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self._close_log()

    def stop(self) -> None:
        """Stops the worker and its pool in under a second.

        A warm shutdown only sets a flag that the worker reads between two reads of the broker
        (Celery's loop for a transport without events, the file-system one, waits up to 2 s for
        a message), and a cold one stops the pool gracefully, which takes seconds. Celery's
        third SIGQUIT is its hard shutdown: it raises in the worker at once, which cancels its
        tasks, closes its consumer and terminates its pool. The worker then waits for its pool's
        timeout thread, asleep for up to a second; whatever is left of it after a short grace is
        killed. Nothing is lost that a test needs: work is a row in the database before it is
        a message.
        """
        if self.process is None or self.process.poll() is not None:
            self._close_log()
            return
        for heard in (*_SIGQUIT_HEARD, None):
            os.kill(self.process.pid, signal.SIGQUIT)
            # A signal sent before the handler of the one before it ran would merge with it.
            if heard is not None and not self._says(heard):
                break  # gone already, or deaf: the kill below ends it
        try:
            self.process.wait(timeout=_HARD_SHUTDOWN_GRACE)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:  # the worker and its pool have all exited
            pass
        self.process.wait(timeout=10)
        self._close_log()

    def _says(self, text: str, timeout: float = 1.0) -> bool:
        """Whether the running worker has written ``text`` to its log within ``timeout``."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            if self.says(text):
                return True
            time.sleep(0.005)
        return False


class SupervisedProcess(LoggedProcess):
    """``manage.py <command>`` (``run_worker``, ``run_beat``): a supervisor and its child."""

    def __init__(self, env: dict[str, str], command: str, *args: str, ready: str) -> None:
        super().__init__(env, prefix=f"ct-{command}-")
        self.argv = [sys.executable, "manage.py", command, *args]
        self.ready = ready

    def start(self, *, purge: bool = True) -> None:
        """Starts the supervisor and waits until its child says it is ready."""
        if purge:
            purge_broker()
        self._popen(self.argv)
        self.wait_to_say(self.ready, timeout=60, what=f"{self.argv[2]} to start")

    def child(self) -> int | None:
        """The pid of the supervisor's child (the Celery worker's or beat's main process)."""
        assert self.process is not None
        found = children(self.process.pid)
        return found[0] if found else None

    def wait_for_child(self, *, other_than: int | None = None, timeout: float = 60) -> int:
        """The child's pid once there is one (a new one, when ``other_than`` is given)."""
        wait_for(
            lambda: self.child() not in (None, other_than),
            timeout=timeout,
            what="the supervisor's child",
            on_timeout=self.tail,
        )
        child = self.child()
        assert child is not None
        return child

    def stop(self, *, timeout: float = 30) -> int | None:
        """SIGTERM to the supervisor, as Ctrl-C under ``make run``; returns its exit status.

        Whatever it leaves behind is killed, so that a failed test leaves no process.
        """
        if self.process is None:
            return None
        left = descendants(self.process.pid)
        status = None
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                status = self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        else:
            status = self.process.returncode
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._close_log()
        return status


def supervised_worker(env: dict[str, str], *args: str, name: str = "test") -> SupervisedProcess:
    """``manage.py run_worker`` as the Procfile runs it (concurrency 2), on this run's node
    (``name`` tells two workers of one test apart)."""
    return SupervisedProcess(
        env,
        "run_worker",
        f"--node={name}-{os.getpid()}@%h",
        *args,
        "--",
        "--loglevel=INFO",
        "--concurrency=2",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        ready=" ready.",
    )


def supervised_beat(env: dict[str, str], *args: str) -> SupervisedProcess:
    """``manage.py run_beat`` as the Procfile runs it."""
    return SupervisedProcess(
        env, "run_beat", *args, "--", "--loglevel=INFO", ready="beat: Starting..."
    )


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``, oldest first (Linux: read from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # gone meanwhile
            continue
        # "pid (command) state ppid ...": the command may hold spaces and parentheses.
        fields = text.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append((int(fields[19]), int(text.split(" ", 1)[0])))
    return [child for _, child in sorted(found)]


def descendants(pid: int) -> list[int]:
    found = []
    for child in children(pid):
        found += [child, *descendants(child)]
    return found


def wait_for(
    predicate: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    interval: float = 0.2,
    on_timeout: Callable[[], str] | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    detail = f"\n{on_timeout()}" if on_timeout else ""
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}.{detail}")


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, exited and not yet reaped, does not)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text.rsplit(")", 1)[1].split()[0] != "Z"
