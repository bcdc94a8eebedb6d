"""A real Celery worker process for integration tests, and waiting for its work."""

from __future__ import annotations

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


class WorkerProcess:
    def __init__(self, env: dict[str, str], *, concurrency: int = 2, name: str = "test") -> None:
        self.env = env
        self.concurrency = concurrency
        self.name = name  # two workers of one test need two node names
        self.process: subprocess.Popen[bytes] | None = None
        self.log = Path(tempfile.mkstemp(prefix="ct-worker-", suffix=".log")[1])
        self._log_file: BinaryIO | None = None

    def start(self, *, purge: bool = True) -> None:
        """Starts the worker; ``purge`` drops messages left by earlier tests first."""
        from controltower.celery import app

        if purge:
            app.control.purge()
        self.log.write_text("")
        self._close_log()
        self._log_file = self.log.open("ab")
        self.process = subprocess.Popen(
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
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(
            lambda: " ready." in self.log.read_text(),
            timeout=60,
            what="the worker to start",
            on_timeout=self.tail,
        )

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
            if text in self.log.read_text(errors="replace"):
                return True
            time.sleep(0.005)
        return False

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


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
